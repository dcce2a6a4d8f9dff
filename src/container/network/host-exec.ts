/**
 * Runs the host's network tools (`ip`, `iptables-restore`, `iptables-save`, `aardvark-dns`) by
 * absolute path: conmon's exit command runs `wharf container cleanup` with a bare environment,
 * where `/usr/sbin` may not be on PATH.
 *
 * @example
 * await hostExec('ip', ['-b', '-'], { input: 'link set lo up\n' });
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { FailedPreconditionError, InternalError } from '../../errors/index.ts';

const SEARCH_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/lib/podman'];
const resolved = new Map<string, string>();

/** The absolute path of a host tool, or throws FailedPrecondition naming the Debian package. */
export function hostTool(name: string): string {
  const known = resolved.get(name);
  if (known) return known;
  for (const dir of SEARCH_DIRS) {
    const path = `${dir}/${name}`;
    if (existsSync(path)) {
      resolved.set(name, path);
      return path;
    }
  }
  const hint: Record<string, string> = {
    ip: 'iproute2',
    'iptables-restore': 'iptables',
    'iptables-save': 'iptables',
    'aardvark-dns': 'aardvark-dns',
    netavark: 'netavark',
    bash: 'bash',
    flock: 'util-linux',
    mkfifo: 'coreutils',
  };
  throw new FailedPreconditionError(
    `Cannot find ${name}: install the Debian package ${hint[name] ?? name} (scripts/setup.sh does)`,
  );
}

export interface HostExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a tool; resolves with its output whatever its exit code (see `hostExecChecked`). */
export function hostExecRaw(
  name: string,
  args: readonly string[],
  options: { input?: string } = {},
): Promise<HostExecResult> {
  const path = hostTool(name);
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code: code ?? 1,
      }),
    );
    child.stdin.on('error', () => {
      // the tool may exit before reading all its input; its exit code tells what happened
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a tool and throws `Cannot <action>: <stderr>` when it fails. */
export async function hostExec(
  name: string,
  args: readonly string[],
  options: { input?: string; action?: string } = {},
): Promise<string> {
  const result = await hostExecRaw(name, args, options);
  if (result.code !== 0) {
    const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`;
    throw new InternalError(`Cannot ${options.action ?? `run ${name} ${args.join(' ')}`}: ${detail}`);
  }
  return result.stdout;
}
