// Layer diff and apply against GNU tar, side by side in one run, on a generated tree of 20,000
// files and 200 MB (text, semi-compressible binaries and random data, plus symlinks and
// hardlinks). Each round times, in turn: `tar -c | gzip -1` and Wharf's diff + parallel gzip;
// `tar -x` and Wharf's apply of the same uncompressed layer. Medians of the rounds, ratios and the
// goals (diff+compress no slower than tar|gzip -1; apply within 1.5x of tar -x) are printed.
// The work happens on tmpfs (/dev/shm) unless WHARF_BENCH_DIR says otherwise: on this machine's
// ext4, creating files soon after many were deleted makes the inode allocator scan for inodes
// not recently deleted (`recently_deleted` in perf), which made `tar -x` vary from 1 s to 17 s
// between runs; tmpfs compares the two tools' own costs without that noise.
// Run: node --import tsx bench/layer.bench.ts [rounds]   (as root)
import { execFileSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { applyLayer } from '../src/image/layer/apply.ts';
import { diffDirectories } from '../src/image/layer/diff.ts';

const FILES = 20_000;
const TOTAL_BYTES = 200 * 1000 * 1000;
const ROUNDS = Number(process.argv[2] ?? 3);
const DIFF_GOAL = 1.0;
const APPLY_GOAL = 1.5;

/** xorshift32: the same tree on every machine. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function generateTree(root: string): { dirs: number; bytes: number } {
  const random = prng(42);
  const words = Array.from({ length: 2048 }, (_, i) => {
    let w = '';
    const n = 2 + Math.floor(random() * 9);
    for (let j = 0; j < n; j++) w += String.fromCharCode(97 + Math.floor(random() * 26));
    return i % 17 === 0 ? `${w}(` : i % 13 === 0 ? `${w};\n` : w;
  });
  const noise = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < noise.length; i += 4) noise.writeUInt32LE(Math.floor(random() * 0x1_0000_0000), i);
  const text = (size: number): Buffer => {
    const parts: string[] = [];
    let length = 0;
    while (length < size) {
      const word = words[Math.floor(random() * words.length)]!;
      parts.push(word, ' ');
      length += word.length + 1;
    }
    return Buffer.from(parts.join('')).subarray(0, size);
  };
  const binary = (size: number): Buffer => {
    // Runs of random bytes between runs of zeros and repeated records, like object files.
    const out = Buffer.alloc(size);
    for (let at = 0; at < size; ) {
      const run = Math.min(size - at, 64 + Math.floor(random() * 1024));
      const kind = random();
      if (kind < 0.45) noise.copy(out, at, Math.floor(random() * (noise.length - run)), undefined);
      else if (kind < 0.7) out.fill(Math.floor(random() * 4), at, at + run);
      else noise.copy(out, at, 0, Math.min(run, 256));
      at += run;
    }
    return out;
  };
  const randomData = (size: number): Buffer => {
    const start = Math.floor(random() * (noise.length - size));
    return noise.subarray(start, start + size);
  };
  // Sizes: log-uniform 200 B .. 40 KB for most files; the rest of the budget in 40 big ones.
  const sizes = Array.from({ length: FILES }, () => Math.floor(200 * 200 ** random()));
  const small = sizes.reduce((a, b) => a + b, 0);
  const bigCount = 40;
  const big = Math.max(0, Math.floor((TOTAL_BYTES - small) / bigCount));
  for (let i = 0; i < bigCount; i++) sizes[i * 500] = big;
  const dirs = new Set<string>();
  let bytes = 0;
  for (let i = 0; i < FILES; i++) {
    const dir = join(root, `pkg${i % 97}`, `mod${i % 23}`, i % 3 === 0 ? 'lib' : 'src');
    if (!dirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      dirs.add(dir);
    }
    const size = sizes[i]!;
    const kind = random();
    const content =
      size > 4 * 1024 * 1024
        ? binary(size)
        : kind < 0.55
          ? text(size)
          : kind < 0.85
            ? binary(size)
            : randomData(size);
    const path = join(dir, `file${i}.${kind < 0.55 ? 'txt' : 'bin'}`);
    writeFileSync(path, content);
    bytes += size;
    if (i % 40 === 1) symlinkSync(`file${i}.${kind < 0.55 ? 'txt' : 'bin'}`, join(dir, `link${i}`));
    if (i % 100 === 2) linkSync(path, join(dir, `hard${i}`));
  }
  return { dirs: dirs.size, bytes };
}

function sh(command: string): string {
  return execFileSync('/bin/bash', ['-c', `set -o pipefail; ${command}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
}

interface Sample {
  wall: number;
  /** CPU seconds (user + system, every thread or child): what a run costs whatever the load. */
  cpu: number;
}

/** Runs a shell pipeline; its CPU time comes from bash's `times` (children's line). */
function gnu(prepare: () => void, command: string): Sample {
  prepare();
  sh('sync'); // nobody pays for the previous run's writeback
  const started = performance.now();
  const out = sh(`${command}; times`).trim().split('\n');
  const wall = (performance.now() - started) / 1000;
  const seconds = (t: string): number => {
    const [, m, sec] = /^(\d+)m([\d.]+)s$/.exec(t) ?? [];
    return Number(m) * 60 + Number(sec);
  };
  const [user, system] = out.at(-1)!.split(/\s+/);
  return { wall, cpu: seconds(user!) + seconds(system!) };
}

async function wharf(prepare: () => void, run: () => Promise<void>): Promise<Sample> {
  prepare();
  sh('sync');
  const started = performance.now();
  const cpu = process.cpuUsage();
  await run();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const base = process.env.WHARF_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const work = mkdtempSync(join(base, 'wharf-layer-bench-'));
try {
  const tree = join(work, 'tree');
  const started = performance.now();
  const { dirs, bytes } = generateTree(tree);
  const generated = (performance.now() - started) / 1000;
  sh(`tar -cf - -C ${tree} . | cat > /dev/null`); // warm the page cache for both sides
  const layer = join(work, 'layer.tar');
  const gnuGz = join(work, 'gnu.tar.gz');
  const wharfGz = join(work, 'wharf.tar.gz');
  const dest = join(work, 'dest');
  const fresh = (): void => {
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest);
  };
  const samples: Record<string, Sample[]> = {};
  const record = (name: string, sample: Sample): void => {
    (samples[name] ??= []).push(sample);
  };
  const none = (): void => {};
  let layerSize = 0;
  let gzSize = 0;
  const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadBefore = load();
  for (let round = 0; round < ROUNDS; round++) {
    record('gnu diff+gzip', gnu(none, `tar -cf - -C ${tree} . | gzip -1 > ${gnuGz}`));
    record(
      'wharf diff+gzip',
      await wharf(none, async () => {
        const diff = diffDirectories(undefined, tree, { compression: 'gzip', gzipLevel: 1 });
        await pipeline(diff.stream, createWriteStream(wharfGz));
        const result = await diff.result;
        layerSize = result.diffSize;
        gzSize = result.size;
      }),
    );
    record('gnu diff', gnu(none, `tar -cf ${layer}.gnu -C ${tree} .`));
    record(
      'wharf diff',
      await wharf(none, async () => {
        await pipeline(diffDirectories(undefined, tree).stream, createWriteStream(layer));
      }),
    );
    record('gnu apply', gnu(fresh, `tar -xf ${layer} -C ${dest}`));
    record('wharf apply', await wharf(fresh, async () => void (await applyLayer(layer, dest))));
    record('gnu apply gzip', gnu(fresh, `tar -xzf ${wharfGz} -C ${dest}`));
    record('wharf apply gzip', await wharf(fresh, async () => void (await applyLayer(wharfGz, dest))));
  }
  const wall = (name: string): number => median(samples[name]!.map((x) => x.wall));
  const cpu = (name: string): number => median(samples[name]!.map((x) => x.cpu));
  const diffRatio = wall('wharf diff+gzip') / wall('gnu diff+gzip');
  const applyRatio = wall('wharf apply') / wall('gnu apply');
  const row = (label: string, gnuName: string, wharfName: string, goal?: number): string => {
    const ratio = wall(wharfName) / wall(gnuName);
    const verdict =
      goal === undefined ? '' : `goal <= ${goal.toFixed(1)}x: ${ratio <= goal ? 'met' : 'MISSED'}`;
    const cells = [
      `${wall(gnuName).toFixed(2)} s`.padStart(10),
      `${wall(wharfName).toFixed(2)} s`.padStart(10),
      `${ratio.toFixed(2)}x`.padStart(8),
      `${cpu(gnuName).toFixed(2)} s`.padStart(11),
      `${cpu(wharfName).toFixed(2)} s`.padStart(10),
      `${(cpu(wharfName) / cpu(gnuName)).toFixed(2)}x`.padStart(8),
    ];
    return `  ${label.padEnd(31)}${cells.join('')}   ${verdict}`;
  };
  console.log(
    `layer bench (${base}): ${FILES.toLocaleString('en')} files + links, ${(bytes / 1e6).toFixed(0)} MB in ${dirs} directories ` +
      `(generated in ${generated.toFixed(1)} s); medians of ${ROUNDS} rounds; layer ${(layerSize / 1e6).toFixed(0)} MB, ` +
      `gzip -1 ${(gzSize / 1e6).toFixed(0)} MB (${((100 * gzSize) / layerSize).toFixed(0)}%); load ${loadBefore} -> ${load()}`,
  );
  console.log(
    `  ${''.padEnd(31)}${'GNU wall'.padStart(10)}${'Wharf'.padStart(10)}${'ratio'.padStart(8)}${'GNU cpu'.padStart(11)}${'Wharf'.padStart(10)}${'ratio'.padStart(8)}`,
  );
  console.log(row('diff+compress (tar -c|gzip -1)', 'gnu diff+gzip', 'wharf diff+gzip', DIFF_GOAL));
  console.log(row('apply (tar -x)', 'gnu apply', 'wharf apply', APPLY_GOAL));
  console.log(row('diff, uncompressed (tar -c)', 'gnu diff', 'wharf diff'));
  console.log(row('apply gzip (tar -xzf)', 'gnu apply gzip', 'wharf apply gzip'));
  if (diffRatio > DIFF_GOAL || applyRatio > APPLY_GOAL) process.exitCode = 1;
} finally {
  if (process.env.WHARF_BENCH_KEEP) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
