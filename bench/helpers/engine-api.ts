/**
 * Docker Engine API daemons that a benchmark starts for itself: the wait until one answers the
 * docker CLI, and a `wharf system service` on a root and socket of its own.
 *
 * Why it exists: the engine-api benchmarks (and the dockerd helper) each polled `docker version`
 * in a loop of their own and started the Wharf daemon the same way; one copy keeps the polling,
 * the stop by PID on a failed start and the error that quotes the daemon's log alike everywhere.
 *
 * @example
 * const wharf = await startWharfService(join(work, 'wharf'), { cli: DOCKER_CLI });
 * await must(DOCKER_CLI, ['run', '--rm', 'busybox', 'true'], wharf.env);
 * await wharf.stop();
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBaseImages } from '../../test/helpers/base-images.ts';
import { wharfBin } from '../../test/helpers/wharf.ts';
import { run, sleep, spawnWithLog, stopByPid } from './process.ts';

export interface EngineApiWait {
  /** The docker CLI that asks (`docker version`). */
  cli: string;
  /** Polls after the first before giving up: 150 unless told. */
  attempts?: number;
  /** Pause between polls: 200 ms unless told. */
  intervalMs?: number;
}

/**
 * Polls `docker version` against `env` until the daemon answers: true then, false once `child`
 * has exited or the attempts ran out (the caller stops it and reports).
 *
 * @example
 * if (!(await waitForEngineApi(child, env, { cli: '/usr/bin/docker' }))) await stopByPid(child);
 */
export async function waitForEngineApi(
  child: ChildProcess,
  env: NodeJS.ProcessEnv,
  wait: EngineApiWait,
): Promise<boolean> {
  for (let i = 0; ; i++) {
    if ((await run(wait.cli, ['version'], env)).code === 0) return true;
    if (i > (wait.attempts ?? 150) || child.exitCode !== null) return false;
    await sleep(wait.intervalMs ?? 200);
  }
}

export interface WharfServiceOptions extends EngineApiWait {
  /** Variables for the docker CLI beside DOCKER_HOST and DOCKER_CONFIG (DOCKER_BUILDKIT...). */
  env?: NodeJS.ProcessEnv;
  /** Who "did not start" in the error: `wharf system service` unless told. */
  name?: string;
}

export interface WharfService {
  /** The store root, `DIR/root`, holding busybox:latest. */
  root: string;
  /** Environment for the docker CLI: DOCKER_HOST at the service's socket, DOCKER_CONFIG `DIR/cli`. */
  env: NodeJS.ProcessEnv;
  child: ChildProcess;
  /** What the service wrote on stderr so far (its run trace with `WHARF_RUN_TRACE=1`). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `wharf system service` on `DIR/root` (busybox imported by scripts/make-base-images.sh)
 * and the socket `DIR/wharf.sock`, and waits until the docker CLI gets an answer; a service that
 * does not come up is stopped and the error quotes the end of its log.
 *
 * @example
 * const service = await startWharfService(dir, { cli: DOCKER_CLI, env: { DOCKER_BUILDKIT: '0' } });
 */
export async function startWharfService(dir: string, options: WharfServiceOptions): Promise<WharfService> {
  const root = join(dir, 'root');
  await mkdir(root, { recursive: true });
  await ensureBaseImages(root);
  const socket = join(dir, 'wharf.sock');
  const { child, log } = spawnWithLog(wharfBin, [
    '--root',
    root,
    'system',
    'service',
    '-H',
    `unix://${socket}`,
  ]);
  const env = {
    ...process.env,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: join(dir, 'cli'),
    ...options.env,
  };
  if (!(await waitForEngineApi(child, env, options))) {
    await stopByPid(child);
    throw new Error(`${options.name ?? 'wharf system service'} did not start: ${log().slice(-1500)}`);
  }
  return { root, env, child, log, stop: () => stopByPid(child) };
}
