/**
 * A private dockerd for the benchmarks that compare with Docker (Debian's docker.io): its own
 * `--data-root`, `--exec-root`, `--pidfile` and socket under one directory, overlay2, and either
 * no network at all (`--bridge=none --iptables=false --ip-masq=false`: a dockerd may leave the
 * FORWARD policy at DROP, see traps.md) or a bridge the benchmark made, with iptables on.
 * It is waited for through the docker CLI and stopped by its PID, never by name.
 *
 * Why it exists: four benchmarks started dockerd with the same flags, the same wait and the same
 * busybox import, each in its own words; a fix to one (the SIGKILL after a stuck stop, say) had
 * not reached the others.
 *
 * @example
 * const docker = await startDockerd({ dir: join(work, 'docker') });
 * if (typeof docker === 'string') return docker; // why it could not start
 * await docker.importBusybox(tar, 'bench-busybox:latest');
 * await must(docker.cli, ['run', '--rm', 'bench-busybox', 'true'], docker.env);
 * await docker.stop();
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { busyboxImportArgs } from './busybox.ts';
import { waitForEngineApi } from './engine-api.ts';
import { type FailureStyle, must, spawnWithLog, stopByPid } from './process.ts';

export const DOCKERD = '/usr/sbin/dockerd';
/** Debian's docker CLI (docker.io); the engine-api benchmarks use the docker CLI 28 instead. */
export const DOCKER = '/usr/bin/docker';

/** Why Debian's dockerd and docker CLI cannot be used here, or undefined. */
export function dockerUnavailable(): string | undefined {
  return existsSync(DOCKERD) && existsSync(DOCKER) ? undefined : 'docker.io is not installed';
}

export interface DockerdOptions {
  /** Holds `data`, `exec`, `docker.pid`, `docker.sock` and the CLI's config `cli`; made if missing. */
  dir: string;
  /** The docker CLI that waits for the daemon and imports: DOCKER unless told. */
  cli?: string;
  /** A bridge the caller made, for `--bridge=NAME` with iptables on; none (and no iptables) unless told. */
  bridge?: string;
  /** Variables for the docker CLI beside DOCKER_HOST and DOCKER_CONFIG (DOCKER_BUILDKIT...). */
  env?: NodeJS.ProcessEnv;
  /** Polls of `docker version`, 200 ms apart, before giving up: 150 unless told. */
  attempts?: number;
  /** How a failed import reads (see process.ts). */
  failure?: FailureStyle;
}

export interface Dockerd {
  child: ChildProcess;
  cli: string;
  /** Environment for the docker CLI: DOCKER_HOST at the daemon's socket, a private DOCKER_CONFIG. */
  env: NodeJS.ProcessEnv;
  /** `docker import` of a busybox rootfs tar as `reference` (busyboxImportArgs); throws on failure. */
  importBusybox(tar: string, reference: string, options?: { path?: boolean }): Promise<void>;
  /** Stops the daemon by its PID (SIGKILL after 30 s). */
  stop(): Promise<void>;
}

/**
 * Starts dockerd and waits until the docker CLI gets an answer. A daemon that does not come up
 * is stopped, and the result is the reason (`dockerd did not start: <end of its log>`), for the
 * benchmark to skip Docker or to throw.
 */
export async function startDockerd(options: DockerdOptions): Promise<Dockerd | string> {
  const { dir } = options;
  const cli = options.cli ?? DOCKER;
  await mkdir(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const network = options.bridge
    ? [`--bridge=${options.bridge}`]
    : ['--bridge=none', '--iptables=false', '--ip-masq=false'];
  const { child, log } = spawnWithLog(DOCKERD, [
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '--host',
    `unix://${socket}`,
    ...network,
    '--storage-driver=overlay2',
  ]);
  const env = {
    ...process.env,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: join(dir, 'cli'),
    ...options.env,
  };
  const wait = { cli, ...(options.attempts === undefined ? {} : { attempts: options.attempts }) };
  if (!(await waitForEngineApi(child, env, wait))) {
    await stopByPid(child);
    return `dockerd did not start: ${log().slice(-1500)}`;
  }
  return {
    child,
    cli,
    env,
    async importBusybox(tar, reference, importOptions = {}) {
      await must(cli, busyboxImportArgs(tar, reference, importOptions), env, {
        ...(options.failure ? { failure: options.failure } : {}),
      });
    },
    stop: () => stopByPid(child),
  };
}
