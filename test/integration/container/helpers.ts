/**
 * A throwaway Wharf root for container tests that drive the real `wharf` binary: busybox:latest
 * made by scripts/make-base-images.sh, a cgroup parent of its own (`/wharf-ctest-XXXX`, passed
 * with `--cgroup-parent` to every container), and a cleanup that removes every container, conmon,
 * health loop, mount and cgroup of the root even after a failure.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeCgroupTree } from '../../../src/runtime/cgroups.ts';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { destroyRootNetworks } from '../../helpers/network-cleanup.ts';
import { runtimeTestsSkipReason } from '../../helpers/runtime-fixture.ts';
import { wharfBin } from '../../helpers/wharf.ts';

export interface WharfResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ContainerFixture {
  root: string;
  cgroupParent: string;
  /** Runs `wharf --root ROOT ARGS...`; `run` and `create` get `--cgroup-parent`. */
  wharf(
    args: string[],
    options?: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv },
  ): Promise<WharfResult>;
  /** Like `wharf`, failing the test unless it exits 0; returns stdout trimmed. */
  ok(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** Spawns `wharf` without waiting (for `logs -f`, `events`). */
  spawn(args: string[]): ChildProcess;
  /** The argv with the fixture's root and cgroup parent inserted. */
  argv(args: string[]): string[];
  cleanup(): Promise<void>;
}

/** Why container tests cannot run here, or undefined. */
export async function containerTestsSkipReason(): Promise<string | undefined> {
  return (await runtimeTestsSkipReason()) ?? baseImagesMissing();
}

function withCgroupParent(args: string[], cgroupParent: string): string[] {
  const verbAt = args.findIndex((arg) => arg === 'run' || arg === 'create');
  if (verbAt < 0) return args;
  // `container run` as well as `run`; only when the verb comes before any image argument.
  const before = args.slice(0, verbAt + 1);
  if (
    before.some((arg) => !arg.startsWith('-') && arg !== 'container' && arg !== 'run' && arg !== 'create')
  ) {
    return args;
  }
  return [...before, '--cgroup-parent', cgroupParent, ...args.slice(verbAt + 1)];
}

export async function makeContainerFixture(): Promise<ContainerFixture> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-ctr-'));
  const cgroupParent = `/wharf-ctest-${randomBytes(4).toString('hex')}`;
  await ensureBaseImages(root);
  const argv = (args: string[]) => ['--root', root, ...withCgroupParent(args, cgroupParent)];
  const wharf: ContainerFixture['wharf'] = (args, options = {}) =>
    new Promise((resolve, reject) => {
      const child = execFile(
        wharfBin,
        argv(args),
        {
          timeout: options.timeoutMs ?? 60_000,
          maxBuffer: 32 * 1024 * 1024,
          env: { ...process.env, ...options.env },
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          if (error && typeof error.code !== 'number') reject(error);
          else resolve({ code, stdout, stderr });
        },
      );
      if (options.input !== undefined) child.stdin!.end(options.input);
      else child.stdin!.end();
    });
  return {
    root,
    cgroupParent,
    wharf,
    argv,
    async ok(args, options) {
      const result = await wharf(args, options);
      if (result.code !== 0) {
        throw new Error(`wharf ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
      }
      return result.stdout.trim();
    },
    spawn(args) {
      return spawn(wharfBin, argv(args), { stdio: ['ignore', 'pipe', 'pipe'] });
    },
    async cleanup() {
      const problems: unknown[] = [];
      const ids = (await wharf(['ps', '-aq', '--no-trunc']).catch(() => ({ stdout: '' }))).stdout
        .split('\n')
        .filter(Boolean);
      if (ids.length > 0) await wharf(['rm', '-f', ...ids]).catch((error: unknown) => problems.push(error));
      // Whatever is left: processes whose command line names this root (conmon, health loops,
      // exit commands), then mounts under it, then cgroups.
      for (const pid of await readdir('/proc').catch(() => [])) {
        if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.includes(root)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }
      const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
        .split('\n')
        .map((line) => line.split(' ')[4])
        .filter((point): point is string => point?.startsWith(root) === true)
        .reverse();
      for (const point of mounts) {
        await new Promise((resolve) => execFile('umount', ['-l', point], resolve));
      }
      for (let attempt = 0; ; attempt++) {
        try {
          await removeCgroupTree(cgroupParent);
          break;
        } catch (error) {
          if (attempt >= 50) {
            problems.push(error);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      // the default bridge (made by the first container), its rules and the root's DNS daemon
      await destroyRootNetworks(root).catch((error: unknown) => problems.push(error));
      await rm(root, { recursive: true, force: true }).catch((error: unknown) => problems.push(error));
      if (problems.length > 0) throw new AggregateError(problems, 'container fixture cleanup failed');
    },
  };
}

/** Polls `fn` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  fn: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Imports a busybox image named `name` with Dockerfile-style `changes` (`-c` of `wharf import`)
 * and extra files (path inside the image -> content).
 */
export async function importBusyboxImage(
  fx: ContainerFixture,
  name: string,
  changes: string[],
  files: Record<string, string> = {},
): Promise<void> {
  const { makeBusyboxRootfs } = await import('../../helpers/busybox-rootfs.ts');
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'wharf-ctr-img-'));
  try {
    const rootfs = join(dir, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(rootfs, path)), { recursive: true });
      await writeFile(join(rootfs, path), content);
    }
    const tarball = join(dir, 'rootfs.tar');
    await new Promise<void>((resolve, reject) =>
      execFile('tar', ['-C', rootfs, '-cf', tarball, '.'], (error) => (error ? reject(error) : resolve())),
    );
    await fx.ok(['import', ...changes.flatMap((change) => ['-c', change]), tarball, name]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The events of `container` in the last five minutes, one line each in `format`
 * (`wharf events --since 5m --until 0s --filter container=X --format F`).
 */
export async function containerEvents(
  fx: ContainerFixture,
  container: string,
  format = '{{.Action}}',
): Promise<string[]> {
  const args = ['events', '--since', '5m', '--until', '0s', '--filter', `container=${container}`];
  return (await fx.ok([...args, '--format', format])).split('\n');
}
