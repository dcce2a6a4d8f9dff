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
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Builder, BuildRounds, cliBuilder, wharfBuilder } from './helpers/build-rounds.ts';
import { busyboxTarball } from './helpers/busybox.ts';
import { dockerUnavailable, startDockerd } from './helpers/dockerd.ts';
import { podmanUnavailable, preparePodman } from './helpers/podman.ts';

const iterations = Number(process.argv[2] ?? 3);

async function buildkitBuilder(dir: string, context: string, busyboxTar: string): Promise<Builder | string> {
  const unavailable = dockerUnavailable();
  if (unavailable) return unavailable;
  const docker = await startDockerd({ dir, env: { DOCKER_BUILDKIT: '1' }, attempts: 100, failure: 'block' });
  if (typeof docker === 'string') return docker;
  await docker.importBusybox(busyboxTar, 'busybox:latest').catch(async (error: unknown) => {
    await docker.stop();
    throw error;
  });
  return cliBuilder({ name: 'buildkit', command: docker.cli, env: docker.env, context, stop: docker.stop });
}

async function podmanBuilder(dir: string, context: string, busyboxTar: string): Promise<Builder | string> {
  const unavailable = podmanUnavailable();
  if (unavailable) return unavailable;
  const podman = await preparePodman({ dir, failure: 'block' });
  const failed = await podman.importBusybox(busyboxTar, 'localhost/busybox:latest');
  if (failed) return failed;
  return {
    name: 'podman',
    async reset() {
      await podman.run(['rmi', '-f', 'localhost/bench:latest']);
      // intermediate images are podman's build cache
      const ids = (await podman.run(['images', '-a', '-q', '--filter', 'dangling=true'])).stdout
        .split('\n')
        .filter(Boolean);
      if (ids.length > 0) await podman.run(['rmi', '-f', ...ids]);
    },
    async build() {
      const r = await podman.must([
        'build',
        '-q',
        '--pull=never',
        '--network',
        'none',
        '-t',
        'localhost/bench:latest',
        context,
      ]);
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
  const rounds = await BuildRounds.create(join(work, 'context'));
  const { context } = rounds;
  const wharf = await wharfBuilder(join(work, 'wharf'), context, {
    echoStderr: process.env.WHARF_BUILD_TRACE === '1',
  });
  builders.push(wharf);
  const busyboxTar = await busyboxTarball();
  for (const make of [
    () => buildkitBuilder(join(work, 'docker'), context, busyboxTar),
    () => podmanBuilder(join(work, 'podman'), context, busyboxTar),
  ]) {
    const b = await make();
    if (typeof b === 'string') console.log(`skipped: ${b}`);
    else builders.push(b);
  }

  for (let i = 0; i < iterations; i++) await rounds.run(builders, i);

  console.log(`build benchmark: ${BuildRounds.FILES} files, ${iterations} iterations (medians, ms)`);
  const medians = rounds.printMedians({ label: 'builder', width: 10 });
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
