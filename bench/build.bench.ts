// `wharf build` against BuildKit (Debian's docker.io: dockerd + /usr/bin/docker, DOCKER_BUILDKIT=1)
// and Podman (Debian's podman), side by side in one run, on one Dockerfile and context:
//   2,000 files of 5-15 KiB; FROM busybox, WORKDIR /app, COPY . ., a RUN writing 200 files, ENV, CMD.
// Three figures per builder, medians over the iterations (builders alternate within each round, so
// machine load hits all alike):
//   cold:       no build cache (pruned), base image present
//   cached:     the same build again, nothing changed
//   one change: one context file changed, then built
// Goals, as ratios to BuildKit in the same run: cold <= 1.0x, cached <= 0.7x, one change <= 0.6x.
//
// The benchmark starts its own dockerd (own data root, exec root and socket, no iptables, no
// bridge) and stops it by PID at the end; Podman runs with its own root and run root and a
// containers.conf whose default ulimits fit this host (nofile 20000, nproc 32768). All builds run
// RUN without network (`--network none`), Wharf's default. Needs `apt-get install docker.io podman`
// and busybox-static; missing builders are skipped with a message.
//
// Run: node --import tsx bench/build.bench.ts [iterations]   (WHARF_BUILD_TRACE=1 for Wharf's phases)
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBaseImages } from '../test/helpers/base-images.ts';
import { wharfBin } from '../test/helpers/wharf.ts';

const iterations = Number(process.argv[2] ?? 3);
const FILES = 2000;

const DOCKERFILE = `FROM busybox
WORKDIR /app
COPY . .
RUN for i in $(seq 1 200); do echo "generated $i" > /app/gen-$i.txt; done
ENV APP_MODE=bench
CMD ["sh"]
`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(
  binary: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd?: string,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        ms: performance.now() - started,
      }),
    );
  });
}

async function must(binary: string, args: string[], env?: NodeJS.ProcessEnv, cwd?: string): Promise<Result> {
  const r = await run(binary, args, env, cwd);
  if (r.code !== 0)
    throw new Error(`${binary} ${args.join(' ')} failed (${r.code}):\n${r.stderr.slice(-3000)}`);
  return r;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The context: FILES files of 5-15 KiB in 20 directories, random bytes (seeded per file). */
async function makeContext(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `dir${i % 20}`);
    if (i < 20) await mkdir(sub, { recursive: true });
    const size = 5 * 1024 + ((i * 7919) % (10 * 1024));
    await writeFile(join(sub, `file${i}.bin`), randomBytes(size));
  }
}

interface Builder {
  name: string;
  /** Removes the build cache and the built image (the base image stays). */
  reset(): Promise<void>;
  build(): Promise<number>;
  stop(): Promise<void>;
}

async function wharfBuilder(root: string, context: string): Promise<Builder> {
  await ensureBaseImages(root);
  const env = { ...process.env, WHARF_ROOT: root };
  return {
    name: 'wharf',
    async reset() {
      await run(wharfBin, ['rmi', '-f', 'bench:latest'], env);
      await must(wharfBin, ['builder', 'prune', '-a', '-f'], env);
    },
    async build() {
      const r = await must(
        wharfBin,
        ['build', '-q', '--network', 'none', '-t', 'bench:latest', context],
        env,
      );
      if (process.env.WHARF_BUILD_TRACE === '1') process.stderr.write(r.stderr);
      return r.ms;
    },
    async stop() {},
  };
}

async function buildkitBuilder(dir: string, context: string, busyboxTar: string): Promise<Builder | string> {
  if (!existsSync('/usr/sbin/dockerd') || !existsSync('/usr/bin/docker')) return 'docker.io is not installed';
  const sock = join(dir, 'docker.sock');
  const pidfile = join(dir, 'docker.pid');
  const daemon: ChildProcess = spawn(
    '/usr/sbin/dockerd',
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      pidfile,
      '--host',
      `unix://${sock}`,
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--storage-driver=overlay2',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: false },
  );
  const log: Buffer[] = [];
  daemon.stderr?.on('data', (c: Buffer) => log.push(c));
  const env = {
    ...process.env,
    DOCKER_HOST: `unix://${sock}`,
    DOCKER_BUILDKIT: '1',
    DOCKER_CONFIG: join(dir, 'cli'),
  };
  const stop = async () => {
    if (daemon.exitCode === null && daemon.pid !== undefined) {
      process.kill(daemon.pid, 'SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
  };
  for (let i = 0; ; i++) {
    if ((await run('/usr/bin/docker', ['version'], env)).code === 0) break;
    if (i > 100 || daemon.exitCode !== null) {
      await stop();
      return `dockerd did not start: ${Buffer.concat(log).toString().slice(-1500)}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await must('/usr/bin/docker', ['import', '--change', 'CMD ["sh"]', busyboxTar, 'busybox:latest'], env);
  return {
    name: 'buildkit',
    async reset() {
      await run('/usr/bin/docker', ['rmi', '-f', 'bench:latest'], env);
      await must('/usr/bin/docker', ['builder', 'prune', '-a', '-f'], env);
    },
    async build() {
      return (
        await must(
          '/usr/bin/docker',
          ['build', '-q', '--network', 'none', '-t', 'bench:latest', context],
          env,
        )
      ).ms;
    },
    stop,
  };
}

async function podmanBuilder(dir: string, context: string, busyboxTar: string): Promise<Builder | string> {
  if (!existsSync('/usr/bin/podman')) return 'podman is not installed';
  await mkdir(dir, { recursive: true });
  const conf = join(dir, 'containers.conf');
  await writeFile(
    conf,
    '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n',
  );
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'overlay'];
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const imported = await run(
    '/usr/bin/podman',
    [...base, 'import', '--change', 'CMD ["sh"]', busyboxTar, 'localhost/busybox:latest'],
    env,
  );
  if (imported.code !== 0) return `podman import failed: ${imported.stderr.slice(-800)}`;
  return {
    name: 'podman',
    async reset() {
      await run('/usr/bin/podman', [...base, 'rmi', '-f', 'localhost/bench:latest'], env);
      // intermediate images are podman's build cache
      const ids = (
        await run('/usr/bin/podman', [...base, 'images', '-a', '-q', '--filter', 'dangling=true'], env)
      ).stdout
        .split('\n')
        .filter(Boolean);
      if (ids.length > 0) await run('/usr/bin/podman', [...base, 'rmi', '-f', ...ids], env);
    },
    async build() {
      const r = await must(
        '/usr/bin/podman',
        [
          ...base,
          'build',
          '-q',
          '--pull=never',
          '--network',
          'none',
          '-t',
          'localhost/bench:latest',
          context,
        ],
        env,
      );
      return r.ms;
    },
    async stop() {},
  };
}

// Under /var/lib, where /var/lib/wharf and /var/lib/docker live by default: on this machine the
// cost of creating a file varies tenfold between directories of the same filesystem.
const work = await mkdtemp(join(process.env.WHARF_BENCH_DIR ?? '/var/lib', 'wharf-build-bench-'));
const builders: Builder[] = [];
try {
  const context = join(work, 'context');
  await makeContext(context);
  const wharf = await wharfBuilder(join(work, 'wharf'), context);
  builders.push(wharf);
  const cache = process.env.WHARF_BASE_CACHE ?? '/var/tmp/wharf-base-images';
  const tar = readdirSync(cache).find((n) => n.startsWith('busybox-') && n.endsWith('.tar'));
  if (!tar) throw new Error(`no busybox tarball in ${cache}`);
  const busyboxTar = join(cache, tar);
  for (const make of [
    () => buildkitBuilder(join(work, 'docker'), context, busyboxTar),
    () => podmanBuilder(join(work, 'podman'), context, busyboxTar),
  ]) {
    const b = await make();
    if (typeof b === 'string') console.log(`skipped: ${b}`);
    else builders.push(b);
  }

  const times = new Map(
    builders.map((b) => [b.name, { cold: [] as number[], cached: [] as number[], change: [] as number[] }]),
  );
  for (let i = 0; i < iterations; i++) {
    for (const b of builders) {
      const t = times.get(b.name)!;
      await b.reset();
      t.cold.push(await b.build());
      t.cached.push(await b.build());
      await appendFile(join(context, 'dir7', 'file7.bin'), `change ${i} ${b.name}\n`);
      t.change.push(await b.build());
    }
  }

  console.log(`build benchmark: ${FILES} files, ${iterations} iterations (medians, ms)`);
  console.log(
    `${'builder'.padEnd(10)}${'cold'.padStart(10)}${'cached'.padStart(10)}${'one change'.padStart(12)}`,
  );
  const medians = new Map<string, { cold: number; cached: number; change: number }>();
  for (const [name, t] of times) {
    const m = { cold: median(t.cold), cached: median(t.cached), change: median(t.change) };
    medians.set(name, m);
    console.log(
      `${name.padEnd(10)}${m.cold.toFixed(0).padStart(10)}${m.cached.toFixed(0).padStart(10)}${m.change.toFixed(0).padStart(12)}`,
    );
  }
  const bk = medians.get('buildkit');
  const w = medians.get('wharf')!;
  if (bk) {
    console.log(
      `ratio wharf/buildkit: cold ${(w.cold / bk.cold).toFixed(2)} (goal <= 1.0), cached ${(w.cached / bk.cached).toFixed(2)} (goal <= 0.7), one change ${(w.change / bk.change).toFixed(2)} (goal <= 0.6)`,
    );
  }
  const pm = medians.get('podman');
  if (pm) {
    console.log(
      `ratio wharf/podman: cold ${(w.cold / pm.cold).toFixed(2)}, cached ${(w.cached / pm.cached).toFixed(2)}, one change ${(w.change / pm.change).toFixed(2)}`,
    );
  }
} finally {
  for (const b of builders) await b.stop().catch(() => {});
  await rm(work, { recursive: true, force: true }).catch(() => {
    // overlay mounts of a dockerd that died badly: leave the directory, say where
    console.error(`could not remove ${work} entirely`);
  });
}
