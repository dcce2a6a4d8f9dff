/**
 * Host device nodes for `--device` and `--privileged`: stat the node (following a symlink, as
 * Docker does) and describe it as an OCI device plus the device-cgroup rule that allows it.
 * A directory given to `--device` brings every device node below it.
 *
 * @example
 * const { devices, rules } = await resolveDevice({ hostPath: '/dev/fuse' });
 */
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, isErrno, NotFoundError } from '../errors/index.ts';
import type { RuntimeDevice, RuntimeDeviceCgroupRule } from './oci-runtime-spec.ts';

export interface DeviceRequest {
  hostPath: string;
  /** Defaults to the host path. */
  containerPath?: string;
  /** Any of `r`, `w`, `m`; defaults to `rwm`. */
  permissions?: string;
}

export interface ResolvedDevices {
  devices: RuntimeDevice[];
  rules: RuntimeDeviceCgroupRule[];
}

// Linux's dev_t layout (glibc's gnu_dev_major/minor), on the 64-bit value stat returns.
function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

function describe(info: BigIntStats, containerPath: string): RuntimeDevice | undefined {
  const type = info.isCharacterDevice() ? 'c' : info.isBlockDevice() ? 'b' : info.isFIFO() ? 'p' : undefined;
  if (!type) return undefined;
  return {
    path: containerPath,
    type,
    major: major(info.rdev),
    minor: minor(info.rdev),
    fileMode: Number(info.mode & 0o777n),
    uid: Number(info.uid),
    gid: Number(info.gid),
  };
}

function ruleFor(device: RuntimeDevice, access: string): RuntimeDeviceCgroupRule {
  // Cgroup rules know only char and block devices; a FIFO needs no rule.
  const type = device.type === 'b' ? 'b' : 'c';
  return { allow: true, type, major: device.major, minor: device.minor, access };
}

/** Parses Docker's `--device HOST[:CONTAINER][:PERMISSIONS]`. */
export function parseDeviceFlag(value: string): DeviceRequest {
  const parts = value.split(':');
  const hostPath = parts[0] ?? '';
  if (!hostPath.startsWith('/')) {
    throw new InvalidArgumentError(`Cannot use device "${value}": the host path must be absolute`);
  }
  const request: DeviceRequest = { hostPath };
  const isPermissions = (text: string) => /^[rwm]{1,3}$/.test(text);
  if (parts.length === 2) {
    if (isPermissions(parts[1]!)) request.permissions = parts[1]!;
    else request.containerPath = parts[1]!;
  } else if (parts.length === 3) {
    request.containerPath = parts[1]!;
    if (!isPermissions(parts[2]!)) {
      throw new InvalidArgumentError(`Cannot use device "${value}": bad permissions "${parts[2]}"`);
    }
    request.permissions = parts[2]!;
  } else if (parts.length > 3) {
    throw new InvalidArgumentError(`Cannot use device "${value}": too many colons`);
  }
  if (request.containerPath !== undefined && !request.containerPath.startsWith('/')) {
    throw new InvalidArgumentError(`Cannot use device "${value}": the container path must be absolute`);
  }
  return request;
}

/** The device nodes a `--device` request names, with the cgroup rules that allow them. */
export async function resolveDevice(request: DeviceRequest): Promise<ResolvedDevices> {
  const access = request.permissions ?? 'rwm';
  const containerPath = request.containerPath ?? request.hostPath;
  let resolved: string;
  try {
    resolved = (await lstat(request.hostPath)).isSymbolicLink()
      ? await realpath(request.hostPath)
      : request.hostPath;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) {
      throw new NotFoundError(`Cannot add device ${request.hostPath}: no such file`, { cause: error });
    }
    throw error;
  }
  const info = await stat(resolved, { bigint: true });
  const single = describe(info, containerPath);
  if (single) return { devices: [single], rules: single.type === 'p' ? [] : [ruleFor(single, access)] };
  if (!info.isDirectory()) {
    throw new InvalidArgumentError(`Cannot add device ${request.hostPath}: not a device node or directory`);
  }
  const result: ResolvedDevices = { devices: [], rules: [] };
  const walk = async (dir: string, inside: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const hostChild = join(dir, entry.name);
      const containerChild = join(inside, entry.name);
      if (entry.isDirectory()) await walk(hostChild, containerChild);
      else if (entry.isCharacterDevice() || entry.isBlockDevice()) {
        const device = describe(await stat(hostChild, { bigint: true }), containerChild);
        if (device) {
          result.devices.push(device);
          result.rules.push(ruleFor(device, access));
        }
      }
    }
  };
  await walk(resolved, containerPath);
  if (result.devices.length === 0) {
    throw new InvalidArgumentError(
      `Cannot add device ${request.hostPath}: the directory holds no device nodes`,
    );
  }
  return result;
}

// Docker's HostDevices skips these: they are the container's own (its /dev/pts, /dev/shm...).
const SKIPPED_DEV_DIRS = new Set(['pts', 'shm', 'mqueue', 'fd']);

/** Every device node under the host's /dev, for `--privileged` (Docker's HostDevices). */
export async function listHostDevices(devRoot = '/dev'): Promise<RuntimeDevice[]> {
  const devices: RuntimeDevice[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth === 0 && SKIPPED_DEV_DIRS.has(entry.name)) continue;
        await walk(path, depth + 1);
      } else if (entry.isCharacterDevice() || entry.isBlockDevice()) {
        // /dev/console is the container's own terminal; /dev/ptmx is bound to its devpts.
        if (path === join(devRoot, 'console') || path === join(devRoot, 'ptmx')) continue;
        try {
          const device = describe(await stat(path, { bigint: true }), `/dev${path.slice(devRoot.length)}`);
          if (device) devices.push(device);
        } catch {
          // A node that vanished between readdir and stat is not a device to add.
        }
      }
    }
  };
  await walk(devRoot, 0);
  return devices;
}
