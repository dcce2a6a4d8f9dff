/**
 * Extended attributes of entries held open by descriptor, through the `attr` tools (Node has no
 * xattr calls). The tools get `/proc/PID/fd/FD` paths: the kernel resolves each to the pinned
 * inode, so a container swapping names meanwhile cannot redirect a read or a write. This is why
 * `-h` (do not dereference) is *not* passed here, unlike src/image/layer/xattr.ts: the last
 * component of these paths is the magic link that must be followed to reach the inode; callers
 * never pass descriptors of symlinks. One process per batch of paths keeps the cost low.
 *
 * @example
 * const attrs = await readFdXattrs([childFdPath(fd)]);
 * attrs.get(childFdPath(fd))?.get('security.capability');
 */
import { spawn } from 'node:child_process';
import { InternalError } from '../../errors/index.ts';
import { isLayerXattr } from '../../image/layer/whiteout.ts';
import { parseDump, type XattrMap } from '../../image/layer/xattr.ts';

export type { XattrMap };

/**
 * The attributes of each path: by default those worth copying (not overlayfs's own, not the
 * host's SELinux label); with `pattern` (a getfattr regex), exactly those matching it.
 */
export async function readFdXattrs(
  paths: readonly string[],
  pattern?: string,
): Promise<Map<string, XattrMap>> {
  const result = new Map<string, XattrMap>();
  if (paths.length === 0) return result;
  // A path whose filesystem has no xattrs (procfs) makes getfattr exit 1 after printing the rest.
  const args = ['-d', '-m', pattern ?? '-', '-e', 'base64', '--absolute-names', '--', ...paths];
  const { stdout } = await run('getfattr', args, '', true);
  for (const [path, attrs] of parseDump(stdout)) {
    const kept: XattrMap = new Map();
    for (const [name, value] of attrs) if (pattern !== undefined || isLayerXattr(name)) kept.set(name, value);
    if (kept.size > 0) result.set(path, kept);
  }
  return result;
}

/** Sets attributes on descriptor paths, all in one `setfattr --restore`. */
export async function writeFdXattrs(
  writes: ReadonlyArray<{ path: string; xattrs: XattrMap }>,
): Promise<void> {
  const parts: string[] = [];
  for (const { path, xattrs } of writes) {
    if (xattrs.size === 0) continue;
    parts.push(`# file: ${quote(path)}\n`);
    for (const [name, value] of xattrs) parts.push(`${quote(name)}=0s${value.toString('base64')}\n`);
    parts.push('\n');
  }
  if (parts.length === 0) return;
  const { code, stderr } = await run('setfattr', ['--restore=-'], parts.join(''), true);
  if (code !== 0) {
    // A filesystem without xattr support (tmpfs without user.*) is not worth failing a copy for.
    const lines = stderr
      .split('\n')
      .filter((line) => line.trim() !== '' && !/Operation not supported/.test(line));
    if (lines.length > 0) {
      throw new InternalError(`Cannot set extended attributes: ${lines.slice(0, 3).join('; ')}`);
    }
  }
}

/** attr's quoting: backslash, `=`, space and non-printable bytes as `\ooo`. */
function quote(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte <= 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3d)
      out += `\\${byte.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

function run(
  command: string,
  args: string[],
  input: string,
  tolerateFailure: boolean,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) =>
      reject(new InternalError(`Cannot run ${command}: ${error.message}`, { cause: error })),
    );
    child.on('close', (code) => {
      const result = {
        code: code ?? 1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (result.code === 0 || tolerateFailure) resolve(result);
      else reject(new InternalError(`Cannot run ${command}: ${result.stderr.trim() || `exit code ${code}`}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
