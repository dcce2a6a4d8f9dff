/**
 * The build benchmarks' shared workload: one context (2,000 files of 5-15 KiB and one Dockerfile),
 * builders driven through a docker-shaped CLI (`wharf`, Debian's `docker` with BuildKit, the
 * docker CLI against Wharf's daemon), one round of cold / cached / one-change builds, and the
 * table of medians.
 *
 * Why it exists: bench/build.bench.ts and bench/engine-api-build.bench.ts measure the same builds
 * through different paths, and their ratios only mean something while the context, the commands
 * and the round are the very same; they used to be two copies.
 *
 * @example
 * const rounds = await BuildRounds.create(join(work, 'context'));
 * const wharf = await wharfBuilder(join(work, 'wharf'), rounds.context);
 * for (let i = 0; i < 3; i++) await rounds.run([wharf], i);
 * rounds.printMedians({ label: 'builder', width: 10 });
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBaseImages } from '../../test/helpers/base-images.ts';
import { wharfBin } from '../../test/helpers/wharf.ts';
import { mustWith, run } from './process.ts';
import { median } from './stats.ts';

const DOCKERFILE = `FROM busybox
WORKDIR /app
COPY . .
RUN for i in $(seq 1 200); do echo "generated $i" > /app/gen-$i.txt; done
ENV APP_MODE=bench
CMD ["sh"]
`;

// a failed build says a lot: its errors carry 3,000 characters of stderr on their own lines
const must = mustWith('block');

export interface Builder {
  name: string;
  /** Removes the build cache and the built image (the base image stays). */
  reset(): Promise<void>;
  /** One build of the context, its wall time in ms; `dockerfile` names another file in it. */
  build(dockerfile?: string): Promise<number>;
  stop(): Promise<void>;
}

export interface CliBuilderOptions {
  name: string;
  /** A CLI with docker's verbs: `rmi`, `builder prune`, `build -q`. */
  command: string;
  env: NodeJS.ProcessEnv;
  context: string;
  /** Copies each build's stderr to ours (Wharf's WHARF_BUILD_TRACE phases). */
  echoStderr?: boolean;
  stop?: () => Promise<void>;
}

/**
 * A builder driven through a docker-shaped CLI: reset is `rmi -f bench:latest` then `builder
 * prune -a -f`, a build is `build -q [-f FILE] --network none -t bench:latest CONTEXT`.
 */
export function cliBuilder(options: CliBuilderOptions): Builder {
  const { command, env, context } = options;
  return {
    name: options.name,
    async reset() {
      await run(command, ['rmi', '-f', 'bench:latest'], env);
      await must(command, ['builder', 'prune', '-a', '-f'], env);
    },
    async build(dockerfile?: string) {
      const file = dockerfile ? ['-f', join(context, dockerfile)] : [];
      const r = await must(
        command,
        ['build', '-q', ...file, '--network', 'none', '-t', 'bench:latest', context],
        env,
      );
      if (options.echoStderr) process.stderr.write(r.stderr);
      return r.ms;
    },
    stop: options.stop ?? (async () => {}),
  };
}

/**
 * `wharf build` in-process on the root `root` (busybox imported by make-base-images.sh).
 *
 * @example
 * const wharf = await wharfBuilder(root, context, { echoStderr: process.env.WHARF_BUILD_TRACE === '1' });
 */
export async function wharfBuilder(
  root: string,
  context: string,
  options: { name?: string; echoStderr?: boolean } = {},
): Promise<Builder> {
  await mkdir(root, { recursive: true });
  await ensureBaseImages(root);
  return cliBuilder({
    name: options.name ?? 'wharf',
    command: wharfBin,
    env: { ...process.env, WHARF_ROOT: root },
    context,
    echoStderr: options.echoStderr ?? false,
  });
}

/** One builder's samples, by figure (ms). */
export interface BuildTimes {
  cold: number[];
  cached: number[];
  change: number[];
}

/**
 * The context and the samples of one benchmark run: rounds of cold / cached / one-change builds
 * for each builder in turn, then the table of medians.
 */
export class BuildRounds {
  /** How many files the context holds. */
  static readonly FILES = 2000;
  readonly context: string;
  /** Samples by builder name, in the order the builders first ran. */
  readonly times = new Map<string, BuildTimes>();

  private constructor(context: string) {
    this.context = context;
  }

  /**
   * Makes the context in `dir`: the Dockerfile, then `extra` files (name -> text) beside it, then
   * FILES files of 5-15 KiB of random bytes in 20 directories.
   */
  static async create(dir: string, extra: Record<string, string> = {}): Promise<BuildRounds> {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
    for (const [name, text] of Object.entries(extra)) await writeFile(join(dir, name), text);
    for (let i = 0; i < BuildRounds.FILES; i++) {
      const sub = join(dir, `dir${i % 20}`);
      if (i < 20) await mkdir(sub, { recursive: true });
      const size = 5 * 1024 + ((i * 7919) % (10 * 1024));
      await writeFile(join(sub, `file${i}.bin`), randomBytes(size));
    }
    return new BuildRounds(dir);
  }

  /**
   * Round `round` for each builder in turn: reset, a cold build, the same build again (cached),
   * then one context file changed (dir7/file7.bin, by a line naming the round and the builder)
   * and a build.
   */
  async run(builders: Builder[], round: number): Promise<void> {
    for (const builder of builders) {
      let times = this.times.get(builder.name);
      if (!times) this.times.set(builder.name, (times = { cold: [], cached: [], change: [] }));
      await builder.reset();
      times.cold.push(await builder.build());
      times.cached.push(await builder.build());
      await appendFile(join(this.context, 'dir7', 'file7.bin'), `change ${round} ${builder.name}\n`);
      times.change.push(await builder.build());
    }
  }

  /**
   * Prints the table of medians (ms): a header with `label` in a column of `width`, then a row per
   * builder; returns the medians by builder.
   */
  printMedians(column: {
    label: string;
    width: number;
  }): Map<string, { cold: number; cached: number; change: number }> {
    console.log(
      `${column.label.padEnd(column.width)}${'cold'.padStart(10)}${'cached'.padStart(10)}${'one change'.padStart(12)}`,
    );
    const medians = new Map<string, { cold: number; cached: number; change: number }>();
    for (const [name, t] of this.times) {
      const m = { cold: median(t.cold), cached: median(t.cached), change: median(t.change) };
      medians.set(name, m);
      console.log(
        `${name.padEnd(column.width)}${m.cold.toFixed(0).padStart(10)}${m.cached.toFixed(0).padStart(10)}${m.change.toFixed(0).padStart(12)}`,
      );
    }
    return medians;
  }
}
