/**
 * Debian's Podman set up for a benchmark: its own `--root` and `--runroot` under one directory,
 * the overlay driver, and a containers.conf of its own whose default ulimits fit this host (root
 * lacks CAP_SYS_RESOURCE, so rlimits above the hard ones, nofile 20000 and nproc 32768, fail in
 * the OCI runtime), with the cgroupfs manager, events in a file and a named OCI runtime; and, for
 * the network benchmark, netavark with a private network config directory and default network.
 *
 * Why it exists: three benchmarks wrote the same containers.conf and passed the same global flags
 * to every podman command; one copy keeps Podman's side of each comparison the same.
 *
 * @example
 * const podman = await preparePodman({ dir: join(work, 'podman') });
 * const failed = await podman.importBusybox(tar, 'localhost/bench-busybox:latest');
 * if (!failed) await podman.must(['run', '--rm', 'localhost/bench-busybox', 'true']);
 * await podman.reset();
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { busyboxImportArgs } from './busybox.ts';
import { type FailureStyle, must, type RunResult, run } from './process.ts';

export const PODMAN = '/usr/bin/podman';

/** Why Podman cannot be used here, or undefined. */
export function podmanUnavailable(): string | undefined {
  return existsSync(PODMAN) ? undefined : 'podman is not installed';
}

export interface PodmanOptions {
  /** Holds `root`, `run` and `containers.conf`; made if missing. */
  dir: string;
  /** The OCI runtime (containers.conf `runtime`): runc unless told. */
  runtime?: string;
  /** netavark with network files in `configDir` and `defaultNetwork` as the default network. */
  network?: { configDir: string; defaultNetwork: string };
  /** How a failed `must` reads (see process.ts). */
  failure?: FailureStyle;
}

export interface Podman {
  /** The global flags every command gets: root, run root, storage driver. */
  base: string[];
  /** The environment every command gets: CONTAINERS_CONF at this setup's file. */
  env: NodeJS.ProcessEnv;
  /** `podman BASE... ARGS...`, whatever its exit code. */
  run(args: string[]): Promise<RunResult>;
  /** `podman BASE... ARGS...`, throwing on a non-zero exit. */
  must(args: string[]): Promise<RunResult>;
  /** `podman import` of a busybox rootfs tar as `reference`: undefined, or why it failed. */
  importBusybox(tar: string, reference: string): Promise<string | undefined>;
  /** Removes every container, then `networks`, then all images and storage (`system reset`). */
  reset(networks?: string[]): Promise<void>;
}

/** The containers.conf text (kept byte for byte as the benchmarks have always written it). */
function containersConf(runtime: string, network: PodmanOptions['network']): string {
  return [
    '[containers]',
    'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
    ...(network
      ? [
          '[network]',
          'network_backend = "netavark"',
          `network_config_dir = "${network.configDir}"`,
          `default_network = "${network.defaultNetwork}"`,
        ]
      : []),
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `runtime = "${runtime}"`,
    '',
  ].join('\n');
}

/**
 * Writes the directory's containers.conf and returns the way to run podman on it.
 *
 * @example
 * const podman = await preparePodman({ dir, runtime: 'crun' });
 */
export async function preparePodman(options: PodmanOptions): Promise<Podman> {
  const { dir } = options;
  await mkdir(dir, { recursive: true });
  if (options.network) await mkdir(options.network.configDir, { recursive: true });
  const conf = join(dir, 'containers.conf');
  await writeFile(conf, containersConf(options.runtime ?? 'runc', options.network));
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'overlay'];
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const failure = options.failure ? { failure: options.failure } : {};
  const podman: Podman = {
    base,
    env,
    run: (args) => run(PODMAN, [...base, ...args], env),
    must: (args) => must(PODMAN, [...base, ...args], env, failure),
    async importBusybox(tar, reference) {
      const imported = await podman.run(busyboxImportArgs(tar, reference));
      return imported.code === 0 ? undefined : `podman import failed: ${imported.stderr.slice(-800)}`;
    },
    async reset(networks = []) {
      await podman.run(['rm', '-f', '-a']);
      for (const network of networks) await podman.run(['network', 'rm', '-f', network]);
      await podman.run(['system', 'reset', '-f']);
    },
  };
  return podman;
}
