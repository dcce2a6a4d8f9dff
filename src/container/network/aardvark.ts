/**
 * Names on user-defined networks, answered by aardvark-dns (Podman's resolver, Debian's
 * `aardvark-dns` in /usr/lib/podman). It daemonizes itself, so it keeps answering when no Wharf
 * process is alive, reloads its configuration on SIGHUP, and exits by itself when the last
 * configuration file is gone. One instance per store root, listening on port 53 of the gateway
 * address of each network that has attached containers; it answers each client only with the
 * names of the networks that client is on, and forwards other names to the host's resolvers.
 *
 *   /run/wharf/TAG/                 tmpfs: gone after a reboot, as the daemon is
 *     aardvark/                     its --config directory
 *       NETID12                     one file per network: line 1 the gateway address, then
 *                                   `CID IPV4 IPV6 name,alias,...` per attached container
 *       aardvark.pid                written by aardvark-dns
 *     aardvark-tmp/                 files are written here, then renamed in (never half-read)
 *
 * @example
 * writeNetworkDns(dir, networkId, '10.89.0.1', [{ containerId, ip: '10.89.0.2', names: ['web'] }]);
 * await reloadDns(dir);
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostTool } from './host-exec.ts';

export interface DnsEntry {
  containerId: string;
  ip: string;
  names: string[];
}

const PID_FILE = 'aardvark.pid';

export function dnsConfigDir(runDir: string): string {
  return join(runDir, 'aardvark');
}

/** The configuration text of one network. */
export function dnsConfigText(gateway: string, entries: readonly DnsEntry[]): string {
  const lines = [gateway];
  for (const entry of entries) {
    const names = [...new Set(entry.names.filter((name) => /^[A-Za-z0-9_.-]+$/.test(name)))];
    if (names.length === 0) continue;
    lines.push(`${entry.containerId} ${entry.ip}  ${names.join(',')}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Writes one network's file; with no entries it is removed unless `keepEmpty` (a file with only
 * the gateway keeps the daemon listening for the network's next container). Synchronous and atomic, so callers
 * can run it inside their database write transaction and files never go back in time.
 */
export function writeNetworkDns(
  dir: string,
  networkId: string,
  gateway: string,
  entries: readonly DnsEntry[],
  options: { keepEmpty?: boolean } = {},
): void {
  const file = join(dir, networkId.slice(0, 12));
  if (entries.length === 0 && !options.keepEmpty) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(dir, { recursive: true });
  const tmpDir = `${dir}-tmp`;
  mkdirSync(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `${networkId.slice(0, 12)}.${process.pid}`);
  writeFileSync(tmp, dnsConfigText(gateway, entries));
  renameSync(tmp, file);
}

/** The running daemon's pid, or undefined. */
export function dnsDaemonPid(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // a recycled pid would belong to another program
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('aardvark-dns')) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

function configFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => /^[0-9a-f]{12}$/.test(name));
  } catch {
    return [];
  }
}

/**
 * Makes the daemon serve the current files: SIGHUP when it runs (it exits by itself when none
 * is left), a new daemon when it does not and there is something to serve.
 */
export async function reloadDns(dir: string): Promise<void> {
  const pid = dnsDaemonPid(dir);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGHUP');
      return;
    } catch {
      // gone between the check and the signal: start a new one below
    }
  }
  if (configFiles(dir).length === 0) return;
  rmSync(join(dir, PID_FILE), { force: true });
  await new Promise<void>((resolve, reject) => {
    // `run` forks the daemon and returns once it listens
    const child = spawn(hostTool('aardvark-dns'), ['--config', dir, '-p', '53', 'run'], {
      stdio: 'ignore',
      detached: true,
    });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

/** Stops the daemon and removes its files (used when a root's last network goes). */
export function stopDns(dir: string): void {
  const pid = dnsDaemonPid(dir);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(`${dir}-tmp`, { recursive: true, force: true });
}
