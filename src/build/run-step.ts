/**
 * Runs one RUN step: the command in an isolated container whose root filesystem is the step's
 * mounted snapshot, with `runc run` (or crun) in the foreground and no conmon, as BuildKit's own
 * runc executor does. The container gets Docker's default spec (capabilities, seccomp, masked
 * paths), its own pid, mount, uts, ipc and cgroup namespaces, a network namespace holding only
 * `lo` unless the step asks for the host's, the hostname `buildkitsandbox`, and read-only
 * `/etc/hosts` and `/etc/resolv.conf` bind-mounted from the build's scratch directory. Its
 * stdout and stderr stream to `onOutput` as they come.
 *
 * The step's `RUN --mount`s (binds and tmpfs, prepared by run-mounts.ts) come after those; with
 * `privileged` (`--security=insecure`) the container gets every capability and host device and
 * no seccomp profile.
 *
 * Mount points the runtime had to create in the root filesystem (a `/proc` or `/etc/hosts` the
 * image lacks, a `--mount` target) are removed afterwards when still empty, so they never end up
 * in the layer: BuildKit's "no stub left behind".
 *
 * @example
 * const code = await runStep({ runtime, host, rootfs, args: ['/bin/sh', '-c', 'echo hi'], env, cwd: '/', user, network: 'none', scratchDir, onOutput });
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isErrno } from '../errors/index.ts';
import { OVERLAY_OPAQUE_XATTR } from '../image/layer/whiteout.ts';
import { readXattrs } from '../image/layer/xattr.ts';
import { removeCgroupTree } from '../runtime/cgroups.ts';
import type { HostFacts } from '../runtime/host-facts.ts';
import type { RuntimeDevice } from '../runtime/oci-runtime-spec.ts';
import { type OciRuntimeDriver, runtimeErrorMessage } from '../runtime/runtime-driver.ts';
import { buildRuntimeSpec, type MountRequest, serializeRuntimeSpec } from '../runtime/spec.ts';
import { resolveRelative } from './fs/root-path.ts';
import type { ExecUser } from './fs/users.ts';

export const SANDBOX_HOSTNAME = 'buildkitsandbox';

export interface RunStepOptions {
  runtime: OciRuntimeDriver;
  host: HostFacts;
  /** The mounted root filesystem (read-write). */
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: ExecUser;
  network: 'none' | 'host';
  hostname?: string;
  /**
   * `RUN --mount`s (binds, tmpfs), mounted after the defaults in this order (parents first).
   * Their targets, when missing in the image, are stubs removed afterwards like the defaults'.
   */
  mounts?: MountRequest[];
  /** `--security=insecure`: every capability, every host device, no seccomp, writable /sys. */
  privileged?: boolean;
  /** The host's device nodes, given with `privileged`. */
  hostDevices?: RuntimeDevice[];
  /** Where the bundle is written (removed afterwards). */
  scratchDir: string;
  /** The overlay upper directory of `rootfs`, when it is one (to spot copied-up directories). */
  upperDir?: string;
  onOutput: (chunk: Buffer) => void;
  signal?: AbortSignal;
  /**
   * Receives cleanup that need not hold the step up (removing the container's empty cgroups);
   * awaited here when absent.
   */
  defer?: (cleanup: Promise<void>) => void;
}

export interface RunStepResult {
  exitCode: number;
  /** The runtime's own error (the process never ran), when there was one. */
  runtimeError?: string;
  /**
   * Directories (absolute in the image) that only the runtime's mount points made the overlay
   * copy up; after unmounting, `pruneCopiedUpDirs` drops those left empty from the upper dir.
   */
  copiedUp: string[];
  /**
   * Those of `copiedUp` that need no look at their overlay attributes before being pruned: seen
   * to show the lower directory's entries (so not opaque), or whose lower directory was empty
   * (opaque or not, an empty copy of an empty directory shows nothing the lower one does not).
   */
  transparent: string[];
}

/**
 * Removes from an overlay upper directory the directories listed when they are empty and not
 * opaque: copied up only to hold a mount stub, they would otherwise put an unchanged `/etc` into
 * the layer. Call after unmounting.
 */
export async function pruneCopiedUpDirs(
  upperDir: string,
  dirs: readonly string[],
  transparent: readonly string[] = [],
): Promise<void> {
  const candidates: string[] = [];
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
    const path = `${upperDir}${dir}`;
    try {
      if (lstatSync(path).isDirectory() && readdirSync(path).length === 0) candidates.push(path);
    } catch (error) {
      if (!isErrno(error, 'ENOENT') && !isErrno(error, 'ENOTDIR')) throw error;
    }
  }
  if (candidates.length === 0) return;
  // A directory that showed its lower entries is not opaque: no getfattr needed for it.
  const unknown = candidates.filter((path) => !transparent.some((t) => `${upperDir}${t}` === path));
  const attrs = unknown.length > 0 ? await readXattrs(unknown, '^trusted\\.overlay\\.') : new Map();
  for (const path of candidates) {
    if (attrs.get(path)?.has(OVERLAY_OPAQUE_XATTR)) continue;
    try {
      rmdirSync(path);
    } catch (error) {
      if (!isErrno(error, 'ENOTEMPTY') && !isErrno(error, 'ENOENT')) throw error;
    }
  }
}

/** The destinations the runtime mounts over (Docker's defaults plus ours). */
const MOUNT_POINTS = [
  '/proc',
  '/dev',
  '/dev/pts',
  '/sys',
  '/sys/fs/cgroup',
  '/dev/mqueue',
  '/dev/shm',
  '/etc/hosts',
  '/etc/resolv.conf',
];

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return false;
    throw error;
  }
}

/** Paths (absolute in the rootfs) that are missing now and that a mount at `points` would create. */
function missingStubs(rootfs: string, points: readonly string[]): string[] {
  const missing = new Set<string>();
  for (const point of points) {
    const parts = point.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      const rel = resolveRelative(rootfs, p, false);
      if (!exists(`${rootfs}/${rel}`)) missing.add(p);
    }
  }
  return [...missing];
}

/** Removes the stubs the runtime left (empty files or directories), deepest first. */
function removeStubs(rootfs: string, stubs: readonly string[]): void {
  for (const p of [...stubs].sort((a, b) => b.length - a.length)) {
    const path = `${rootfs}/${resolveRelative(rootfs, p, false)}`;
    try {
      const st = lstatSync(path);
      if (st.isDirectory()) {
        if (readdirSync(path).length === 0) rmdirSync(path);
      } else if (st.isFile() && st.size === 0) unlinkSync(path);
    } catch (error) {
      if (!isErrno(error, 'ENOENT') && !isErrno(error, 'ENOTDIR')) throw error;
    }
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return [];
    throw error;
  }
}

const TRACE = process.env.WHARF_BUILD_TRACE === '1';
const mark = (what: string, since: number) => {
  if (TRACE) process.stderr.write(`[trace run] ${what} +${(performance.now() - since).toFixed(1)}ms\n`);
};

export async function runStep(options: RunStepOptions): Promise<RunStepResult> {
  const t0 = performance.now();
  const id = `wharf-build-${randomBytes(8).toString('hex')}`;
  const bundle = join(options.scratchDir, id);
  const cgroupsPath = `/wharf-build/${id}`;
  const hostname = options.hostname ?? SANDBOX_HOSTNAME;
  // Small files are written synchronously: the thread pool may be busy storing an earlier
  // step's layer, and these would queue behind it.
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  const stubs = missingStubs(options.rootfs, [
    ...MOUNT_POINTS,
    ...(options.mounts ?? []).map((m) => m.destination),
  ]);
  // Parents of the stubs not yet in the upper dir: the runtime may copy them up.
  const copiedUp: string[] = [];
  const transparent: string[] = [];
  if (options.upperDir !== undefined) {
    const parents = new Set<string>();
    for (const stub of stubs) {
      for (let p = stub.slice(0, stub.lastIndexOf('/')); p !== ''; p = p.slice(0, p.lastIndexOf('/')))
        parents.add(p);
    }
    for (const p of parents) {
      if (stubs.includes(p) || exists(`${options.upperDir}${p}`)) continue;
      copiedUp.push(p);
      // not in the upper directory yet: what the mount shows is the lower directory
      if (listOrEmpty(`${options.rootfs}/${resolveRelative(options.rootfs, p)}`).length === 0)
        transparent.push(p);
    }
  }
  try {
    const hosts = join(bundle, 'hosts');
    const resolv = join(bundle, 'resolv.conf');
    writeFileSync(hosts, `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
    let hostResolv = '';
    try {
      hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      // no resolver configuration on the host: an empty one
    }
    writeFileSync(
      resolv,
      options.network === 'host' ? hostResolv : hostResolv.replace(/^nameserver\s+127\..*$/gm, ''),
    );
    const spec = buildRuntimeSpec({
      args: options.args,
      env: options.env,
      cwd: options.cwd,
      user: {
        uid: options.user.uid,
        gid: options.user.gid,
        ...(options.user.additionalGids.length > 0 ? { additionalGids: options.user.additionalGids } : {}),
      },
      rootfs: options.rootfs,
      hostname,
      network: { mode: options.network },
      mounts: [
        { type: 'bind', source: hosts, destination: '/etc/hosts', readonly: true },
        { type: 'bind', source: resolv, destination: '/etc/resolv.conf', readonly: true },
        ...(options.mounts ?? []),
      ],
      ...(options.privileged ? { privileged: true, hostDevices: options.hostDevices ?? [] } : {}),
      cgroupsPath,
      host: options.host,
    });
    writeFileSync(join(bundle, 'config.json'), serializeRuntimeSpec(spec));
    mark('bundle written', t0);
    const logPath = join(bundle, 'runtime.log');
    const runtime = options.runtime;
    const exitCode = await new Promise<number>((resolve, reject) => {
      const child = spawn(
        runtime.binary,
        [...runtime.globalArgs(), ...runtime.logArgs(logPath), 'run', '--bundle', bundle, id],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.on('data', (chunk: Buffer) => options.onOutput(chunk));
      child.stderr.on('data', (chunk: Buffer) => options.onOutput(chunk));
      const abort = () => {
        spawn(runtime.binary, [...runtime.globalArgs(), 'kill', id, 'KILL'], { stdio: 'ignore' }).on(
          'error',
          () => {},
        );
      };
      options.signal?.addEventListener('abort', abort, { once: true });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        options.signal?.removeEventListener('abort', abort);
        resolve(code ?? (signal === 'SIGKILL' ? 137 : 128));
      });
    });
    mark(`${runtime.name} run exited ${exitCode}`, t0);
    const result: RunStepResult = { exitCode, copiedUp, transparent };
    if (exitCode !== 0) {
      let log = '';
      try {
        log = readFileSync(logPath, 'utf8');
      } catch {
        // no log: the runtime said nothing
      }
      if (/"level":"(error|fatal)"|level=(error|fatal)/.test(log))
        result.runtimeError = runtimeErrorMessage(log);
    }
    return result;
  } finally {
    const runtime = options.runtime;
    // `run` deletes the container when it exits; a failed start may leave it behind (its state
    // directory, which both crun and runc keep at <root>/<id>, tells).
    if (exists(join(runtime.stateDir, id))) {
      await new Promise<void>((resolve) => {
        const child = spawn(runtime.binary, [...runtime.globalArgs(), 'delete', '--force', id], {
          stdio: 'ignore',
        });
        child.on('error', () => resolve());
        child.on('close', () => resolve());
      });
    }
    const cgroups = removeCgroupTree(cgroupsPath).catch(() => {});
    if (options.defer) options.defer(cgroups);
    else await cgroups;
    removeStubs(options.rootfs, stubs);
    if (options.upperDir !== undefined) {
      for (const p of copiedUp) {
        const merged = listOrEmpty(`${options.rootfs}/${resolveRelative(options.rootfs, p)}`);
        const upper = new Set(listOrEmpty(`${options.upperDir}${p}`));
        if (!transparent.includes(p) && merged.some((name) => !upper.has(name))) transparent.push(p);
      }
    }
    rmSync(bundle, { recursive: true, force: true });
    mark('cleaned up', t0);
  }
}
