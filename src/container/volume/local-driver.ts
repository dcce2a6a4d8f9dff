/**
 * Docker's `local` volume driver: a volume is the directory `$root/volumes/NAME/_data`; with
 * options (`--opt type=tmpfs --opt device=tmpfs --opt o=size=64m`, or `type=none,o=bind,
 * device=/srv/x`, or an NFS export...) that directory is the mount point of `mount -t TYPE -o O
 * DEVICE`, mounted when a container that uses the volume starts and taken off when the last one
 * stops (so a tmpfs volume's content lives as long as some container runs with it, as in Docker).
 *
 * The options Docker accepts and requires are checked the same way (`invalid option: "x"`,
 * `missing required option: "device"`).
 *
 * @example
 * checkLocalOptions({ type: 'tmpfs', device: 'tmpfs', o: 'size=64m' });
 * await mountLocalVolume(dataPath, options); // no-op without options or when mounted
 */
import { spawn } from 'node:child_process';
import { InternalError, InvalidArgumentError } from '../../errors/index.ts';
import { isMountPoint } from '../mount-points.ts';

export const LOCAL_DRIVER = 'local';

const VALID_OPTIONS = new Set(['type', 'device', 'o', 'size']);
const MANDATORY: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device', 'type'] };

/** Checks a local volume's driver options as Docker's local driver does. */
export function checkLocalOptions(options: Record<string, string>): void {
  for (const key of Object.keys(options)) {
    if (!VALID_OPTIONS.has(key)) throw new InvalidArgumentError(`invalid option: "${key}"`);
  }
  if ('size' in options) {
    throw new InvalidArgumentError('quota size requested but no quota support');
  }
  for (const [key, required] of Object.entries(MANDATORY)) {
    if (!(key in options)) continue;
    for (const need of required) {
      if (!(need in options)) throw new InvalidArgumentError(`missing required option: "${need}"`);
    }
  }
}

/** Whether the volume is mounted from a device (it has driver options). */
export function hasDevice(options: Record<string, string>): boolean {
  return options.type !== undefined && options.type !== '';
}

/** Mounts the volume's device on its data directory unless it is there already. */
export async function mountLocalVolume(dataPath: string, options: Record<string, string>): Promise<void> {
  if (!hasDevice(options) || (await isMountPoint(dataPath))) return;
  const args = ['-t', options.type!];
  if (options.o) args.push('-o', options.o);
  args.push('--', options.device ?? options.type!, dataPath);
  await run('mount', args, `Cannot mount volume device ${options.device ?? ''} on ${dataPath}`);
}

/** Takes the volume's device off its data directory when it is mounted. */
export async function unmountLocalVolume(dataPath: string): Promise<void> {
  if (!(await isMountPoint(dataPath))) return;
  await run('umount', [dataPath], `Cannot unmount volume ${dataPath}`);
}

function run(command: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => reject(new InternalError(`${what}: ${error.message}`, { cause: error })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new InternalError(`${what}: ${Buffer.concat(err).toString('utf8').trim() || `exit code ${code}`}`),
        );
    });
  });
}
