// `DOCKER_BUILDKIT=0 docker build` through Wharf's daemon (the docker CLI 28 tars the context
// and uploads it to `POST /build`; the daemon unpacks it and runs the same builder) against
// `wharf build` in-process, side by side in one run, on the builder benchmark's Dockerfile and
// context (bench/build.bench.ts: 2,000 files of 5-15 KiB; FROM busybox, WORKDIR /app, COPY . .,
// a RUN writing 200 files, ENV, CMD; RUN without network for both).
// Figures per path, medians over the iterations (the paths alternate within each round):
//   cold:       no build cache (pruned), base image present
//   cached:     the same build again, nothing changed
//   one change: one context file changed, then built
//   context:    (API path only) a build that uses no context file (FROM busybox, ENV): what the
//               tar, the upload and the unpacking cost alone
//   client:     the docker CLI alone: the same `docker build` against a server (in this process)
//               that answers /_ping and drains the body: the floor of any daemon
// Goal: the API path adds under 30% (ratio api/wharf <= 1.3 for cold, cached and one change).
//
// Each path has its own root (the daemon's is started by the benchmark and stopped by PID).
// Needs the docker CLI at /usr/local/bin/docker and busybox-static.
//
// Run: node --import tsx bench/engine-api-build.bench.ts [iterations]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { ensureBaseImages } from '../test/helpers/base-images.ts';
import { wharfBin } from '../test/helpers/wharf.ts';

const iterations = Number(process.argv[2] ?? 3);
const FILES = 2000;
const DOCKER = '/usr/local/bin/docker';

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

function run(binary: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
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

async function must(binary: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Result> {
  const r = await run(binary, args, env);
  if (r.code !== 0)
    throw new Error(`${binary} ${args.join(' ')} failed (${r.code}):\n${r.stderr.slice(-3000)}`);
  return r;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The builder benchmark's context: FILES files of 5-15 KiB in 20 directories, random bytes. */
async function makeContext(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(join(dir, 'Dockerfile.context-only'), 'FROM busybox\nENV ONLY=context\n');
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `dir${i % 20}`);
    if (i < 20) await mkdir(sub, { recursive: true });
    const size = 5 * 1024 + ((i * 7919) % (10 * 1024));
    await writeFile(join(sub, `file${i}.bin`), randomBytes(size));
  }
}

interface Path {
  name: string;
  reset(): Promise<void>;
  build(dockerfile?: string): Promise<number>;
  stop(): Promise<void>;
}

async function wharfPath(root: string, context: string): Promise<Path> {
  await mkdir(root, { recursive: true });
  await ensureBaseImages(root);
  const env = { ...process.env, WHARF_ROOT: root };
  return {
    name: 'wharf build',
    async reset() {
      await run(wharfBin, ['rmi', '-f', 'bench:latest'], env);
      await must(wharfBin, ['builder', 'prune', '-a', '-f'], env);
    },
    async build() {
      return (await must(wharfBin, ['build', '-q', '--network', 'none', '-t', 'bench:latest', context], env))
        .ms;
    },
    async stop() {},
  };
}

async function apiPath(dir: string, context: string): Promise<Path> {
  const root = join(dir, 'root');
  await mkdir(root, { recursive: true });
  await ensureBaseImages(root);
  const socket = join(dir, 'wharf.sock');
  const daemon: ChildProcess = spawn(
    wharfBin,
    ['--root', root, 'system', 'service', '-H', `unix://${socket}`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const log: Buffer[] = [];
  daemon.stderr?.on('data', (c: Buffer) => log.push(c));
  const stop = async () => {
    if (daemon.exitCode === null && daemon.pid !== undefined) {
      const exited = new Promise((resolve) => daemon.once('exit', resolve));
      process.kill(daemon.pid, 'SIGTERM');
      await exited;
    }
  };
  const env = {
    ...process.env,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_BUILDKIT: '0',
    DOCKER_CONFIG: join(dir, 'cli'),
    DOCKER_CLI_HINTS: 'false',
  };
  for (let i = 0; ; i++) {
    if ((await run(DOCKER, ['version'], env)).code === 0) break;
    if (i > 100 || daemon.exitCode !== null) {
      await stop();
      throw new Error(`the daemon did not start: ${Buffer.concat(log).toString().slice(-1500)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    name: 'docker build (API)',
    async reset() {
      await run(DOCKER, ['rmi', '-f', 'bench:latest'], env);
      await must(DOCKER, ['builder', 'prune', '-a', '-f'], env);
    },
    async build(dockerfile?: string) {
      const file = dockerfile ? ['-f', join(context, dockerfile)] : [];
      return (
        await must(DOCKER, ['build', '-q', ...file, '--network', 'none', '-t', 'bench:latest', context], env)
      ).ms;
    },
    stop,
  };
}

/**
 * A stand-in daemon that only drains the build context and answers as the classic builder ends:
 * what the docker CLI costs by itself (walking, reading and tarring the context, uploading it).
 */
async function clientFloor(
  dir: string,
  context: string,
): Promise<{ build(): Promise<number>; stop(): void }> {
  const socket = join(dir, 'drain.sock');
  const id = `sha256:${'0'.repeat(64)}`;
  const server = createServer((req, res) => {
    if (req.url?.endsWith('/_ping')) {
      res.writeHead(200, { 'Api-Version': '1.41', 'Builder-Version': '1', OSType: 'linux' });
      res.end('OK');
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ aux: { ID: id } })}\r\n${JSON.stringify({ stream: `${id}\n` })}\r\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const env = {
    ...process.env,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_BUILDKIT: '0',
    DOCKER_CONFIG: join(dir, 'cli'),
  };
  return {
    build: async () => (await must(DOCKER, ['build', '-q', '-t', 'bench:latest', context], env)).ms,
    stop: () => server.close(),
  };
}

if (!existsSync(DOCKER)) {
  console.log(`skipped: the docker CLI is not installed at ${DOCKER}`);
  process.exit(0);
}
// Under /var/lib, as the builder benchmark (file creation costs differ between directories here).
const work = await mkdtemp(join(process.env.WHARF_BENCH_DIR ?? '/var/lib', 'wharf-api-build-bench-'));
const paths: Path[] = [];
try {
  const context = join(work, 'context');
  await makeContext(context);
  const wharf = await wharfPath(join(work, 'wharf'), context);
  paths.push(wharf);
  const api = await apiPath(join(work, 'api'), context);
  paths.push(api);

  const times = new Map(
    paths.map((p) => [p.name, { cold: [] as number[], cached: [] as number[], change: [] as number[] }]),
  );
  const floor = await clientFloor(work, context);
  const contextOnly: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < iterations; i++) {
    for (const p of paths) {
      const t = times.get(p.name)!;
      await p.reset();
      t.cold.push(await p.build());
      t.cached.push(await p.build());
      await appendFile(join(context, 'dir7', 'file7.bin'), `change ${i} ${p.name}\n`);
      t.change.push(await p.build());
    }
    contextOnly.push(await api.build('Dockerfile.context-only'));
    client.push(await floor.build());
  }
  floor.stop();

  console.log(`engine-api-build benchmark: ${FILES} files, ${iterations} iterations (medians, ms)`);
  console.log(
    `${'path'.padEnd(20)}${'cold'.padStart(10)}${'cached'.padStart(10)}${'one change'.padStart(12)}`,
  );
  const medians = new Map<string, { cold: number; cached: number; change: number }>();
  for (const [name, t] of times) {
    const m = { cold: median(t.cold), cached: median(t.cached), change: median(t.change) };
    medians.set(name, m);
    console.log(
      `${name.padEnd(20)}${m.cold.toFixed(0).padStart(10)}${m.cached.toFixed(0).padStart(10)}${m.change.toFixed(0).padStart(12)}`,
    );
  }
  console.log(`context tar + upload + sync alone (API path): ${median(contextOnly).toFixed(0)} ms`);
  console.log(`the docker CLI alone (a server that drains the context): ${median(client).toFixed(0)} ms`);
  const w = medians.get(wharf.name)!;
  const a = medians.get(api.name)!;
  const ratio = (x: number, y: number) => (x / y).toFixed(2);
  console.log(
    `ratio api/wharf: cold ${ratio(a.cold, w.cold)}, cached ${ratio(a.cached, w.cached)}, one change ${ratio(a.change, w.change)} (goal <= 1.30 each)`,
  );
} finally {
  for (const p of paths) await p.stop().catch(() => {});
  await rm(work, { recursive: true, force: true }).catch(() => {
    console.error(`could not remove ${work} entirely`);
  });
}
