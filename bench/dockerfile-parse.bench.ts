// Parses a generated 10,000-instruction Dockerfile (every instruction kind: continuations,
// heredocs, flags, JSON forms, comments) and reports the median of several runs against the goal.
// Run: node --import tsx bench/dockerfile-parse.bench.ts
import { dumpDockerfile } from '../src/dockerfile/dump.ts';
import { parseDockerfile } from '../src/dockerfile/parser.ts';
import { median as middle } from './helpers/stats.ts';

const INSTRUCTIONS = 10_000;
const RUNS = 15;
const WARMUP = 3;
const GOAL_MS = 100;

/** A Dockerfile of `count` instructions cycling through realistic shapes. */
function generate(count: number): string {
  const shapes = [
    (i: number) => `FROM registry.example.com/base/image:${i} AS stage${i}`,
    (i: number) =>
      `# step ${i}: install the packages\nRUN apt-get update \\\n    && apt-get install -y --no-install-recommends pkg${i} \\\n    && rm -rf /var/lib/apt/lists/*`,
    (i: number) => `COPY --from=stage${i} --chown=app:app ["/src/${i}", "/dst/${i}"]`,
    (i: number) => `ENV PATH=/opt/${i}/bin:$PATH HOME="/home/user ${i}" LANG=C.UTF-8`,
    (i: number) => `LABEL org.opencontainers.image.title="app ${i}" version=${i}`,
    (i: number) =>
      `RUN --mount=type=cache,target=/root/.cache <<EOF\nset -eux\necho building ${i}\nmake -j4 target${i}\nEOF`,
    (i: number) => `CMD ["/usr/bin/app", "--port", "${8000 + (i % 1000)}"]`,
    (i: number) => `ARG VERSION_${i}="1.${i}" BUILD_${i}`,
    (i: number) => `WORKDIR /app/${i}`,
    (i: number) => `HEALTHCHECK --interval=30s --timeout=3s CMD curl -f http://localhost:${i}/ || exit 1`,
  ];
  const parts: string[] = ['# syntax=docker/dockerfile:1'];
  for (let i = 0; i < count; i++) parts.push(shapes[i % shapes.length]!(i));
  return `${parts.join('\n')}\n`;
}

const source = generate(INSTRUCTIONS);
const timings: number[] = [];
for (let run = 0; run < WARMUP + RUNS; run++) {
  const started = performance.now();
  const ast = parseDockerfile(source);
  const elapsed = performance.now() - started;
  if (ast.instructions.length !== INSTRUCTIONS)
    throw new Error(`parsed ${ast.instructions.length} instructions`);
  if (run >= WARMUP) timings.push(elapsed);
}
timings.sort((a, b) => a - b);
const median = middle(timings, { even: 'upper' });
const dumpStarted = performance.now();
dumpDockerfile(parseDockerfile(source));
const withDump = performance.now() - dumpStarted;

const lines = source.split('\n').length - 1;
console.log(
  `dockerfile-parse: ${INSTRUCTIONS} instructions (${lines} lines, ${(source.length / 1024).toFixed(0)} KiB): ` +
    `median ${median.toFixed(1)} ms of ${RUNS} runs (min ${timings[0]!.toFixed(1)}, max ${timings[timings.length - 1]!.toFixed(1)}); ` +
    `goal < ${GOAL_MS} ms: ${median < GOAL_MS ? 'met' : 'MISSED'} (parse + dump ${withDump.toFixed(1)} ms)`,
);
if (median >= GOAL_MS) process.exitCode = 1;
