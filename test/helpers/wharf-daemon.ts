/**
 * A `wharf system service` child process for tests that drive the Engine API with real clients
 * (the docker CLI, dockerode, plain HTTP): a temp directory with the store root and the socket,
 * the daemon started on it and waited for (`/_ping` answers), and `stop()` that sends SIGTERM by
 * PID (SIGKILL after a timeout) and removes the temp directory. Call `stop()` in `after`: it is
 * safe after a failure and when the daemon already exited.
 *
 * @example
 * const daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
 * await run('docker', ['version'], { env: daemon.dockerEnv });
 * await daemon.stop();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destroyRootNetworks } from './network-cleanup.ts';
import { wharfBin } from './wharf.ts';

export const DOCKER_CLI = '/usr/local/bin/docker';

export interface WharfDaemon {
  dir: string;
  root: string;
  socket: string;
  pid: number;
  child: ChildProcess;
  /** Every address it listens on, as it printed them (`tcp://127.0.0.1:PORT` with the bound port). */
  addresses: string[];
  /** Environment for the docker CLI: DOCKER_HOST at the socket, a private DOCKER_CONFIG. */
  dockerEnv: NodeJS.ProcessEnv;
  /** What the daemon wrote on stderr so far (its log). */
  log(): string;
  /** Open file descriptors of the daemon right now. */
  openFds(): Promise<number>;
  /** Resolves with the exit code once the daemon exits. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** One HTTP request over the daemon's unix socket: status, headers and body as text. */
export function socketRequest(
  socket: string,
  path: string,
  options: {
    method?: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, path, method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function startWharfDaemon(
  options: { prepare?: (root: string) => Promise<void>; args?: string[] } = {},
): Promise<WharfDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-daemon-test-'));
  const root = join(dir, 'root');
  const socket = join(dir, 'wharf.sock');
  const dockerConfig = join(dir, 'docker-config');
  await mkdir(dockerConfig);
  let child: ChildProcess | undefined;
  const stop = async (): Promise<number | null> => {
    let code: number | null = null;
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child!.exitCode === null && child!.pid !== undefined) process.kill(child!.pid, 'SIGKILL');
      }, 10_000);
      code = await exited;
      clearTimeout(timer);
    } else if (child) {
      code = child.exitCode;
    }
    await destroyRootNetworks(root).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    return code;
  };
  try {
    await mkdir(root);
    await options.prepare?.(root);
    child = spawn(
      wharfBin,
      ['--root', root, 'system', 'service', '-H', `unix://${socket}`, ...(options.args ?? [])],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout!.on('data', (chunk) => (log += chunk));
    child.stderr!.on('data', (chunk) => (log += chunk));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`the daemon exited (${child.exitCode}) before answering: ${log}`);
      const ping = await socketRequest(socket, '/_ping', { timeoutMs: 1000 }).catch(() => undefined);
      if (ping?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`the daemon did not answer /_ping in 20 s: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pid = child.pid!;
    for (let i = 0; i < 100 && !/Docker Engine API on /.test(log); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const addresses = (/Docker Engine API on (.*)$/m.exec(log)?.[1] ?? '').split(', ').filter(Boolean);
    return {
      addresses,
      dir,
      root,
      socket,
      pid,
      child,
      dockerEnv: {
        ...process.env,
        DOCKER_HOST: `unix://${socket}`,
        DOCKER_CONFIG: dockerConfig,
        DOCKER_CLI_HINTS: 'false',
      },
      log: () => log,
      openFds: async () => (await readdir(`/proc/${pid}/fd`)).length,
      exited,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
