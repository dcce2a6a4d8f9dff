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
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { type Builder, BuildRounds, cliBuilder, wharfBuilder } from './helpers/build-rounds.ts';
import { startWharfService } from './helpers/engine-api.ts';
import { mustWith } from './helpers/process.ts';
import { median } from './helpers/stats.ts';

const iterations = Number(process.argv[2] ?? 3);
const DOCKER = '/usr/local/bin/docker';
const must = mustWith('block');

async function apiPath(dir: string, context: string): Promise<Builder> {
  const service = await startWharfService(dir, {
    name: 'the daemon',
    cli: DOCKER,
    attempts: 100,
    intervalMs: 100,
    env: { DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' },
  });
  return cliBuilder({
    name: 'docker build (API)',
    command: DOCKER,
    env: service.env,
    context,
    stop: service.stop,
  });
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
const paths: Builder[] = [];
try {
  const rounds = await BuildRounds.create(join(work, 'context'), {
    'Dockerfile.context-only': 'FROM busybox\nENV ONLY=context\n',
  });
  const { context } = rounds;
  const wharf = await wharfBuilder(join(work, 'wharf'), context, { name: 'wharf build' });
  paths.push(wharf);
  const api = await apiPath(join(work, 'api'), context);
  paths.push(api);

  const floor = await clientFloor(work, context);
  const contextOnly: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < iterations; i++) {
    await rounds.run(paths, i);
    contextOnly.push(await api.build('Dockerfile.context-only'));
    client.push(await floor.build());
  }
  floor.stop();

  console.log(
    `engine-api-build benchmark: ${BuildRounds.FILES} files, ${iterations} iterations (medians, ms)`,
  );
  const medians = rounds.printMedians({ label: 'path', width: 20 });
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
