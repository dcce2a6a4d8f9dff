/**
 * Bare network namespaces for network tests: a temp store root with its NetworkManager, fake
 * container ids, processes started inside a namespace with `ip netns exec` (no container, no
 * image), and snapshots of the host's interfaces, namespaces and NAT table to compare after.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkManager } from '../../../src/container/network/network-manager.ts';
import { type MetadataDatabase, openMetadataDatabase } from '../../../src/metadata/database.ts';

/** Why these tests cannot run here, or undefined. */
export function netnsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespace tests need root';
  for (const tool of ['/usr/bin/busybox', '/usr/lib/podman/aardvark-dns']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr/bin', '/bin')))
      return `${tool} is missing (scripts/setup.sh)`;
  }
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'ip netns does not work here';
  return undefined;
}

export function containerId(): string {
  return randomBytes(32).toString('hex');
}

export function run(command: string, args: readonly string[]): { code: number; out: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  return { code: result.status ?? 1, out: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** Runs a command inside a namespace file and waits for it. */
export function inNetns(netnsPath: string, args: readonly string[]): { code: number; out: string } {
  return run('nsenter', [`--net=${netnsPath}`, ...args]);
}

export interface NetnsFixture {
  root: string;
  db: MetadataDatabase;
  manager: NetworkManager;
  /** Starts a long-running process in a namespace; stopped by `dispose`. */
  spawnIn(netnsPath: string, args: readonly string[]): ChildProcess;
  dispose(): Promise<void>;
}

export async function makeNetnsFixture(): Promise<NetnsFixture> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-net-'));
  const db = openMetadataDatabase(root);
  const manager = await NetworkManager.open(db, root);
  const children: ChildProcess[] = [];
  return {
    root,
    db,
    manager,
    spawnIn(netnsPath, args) {
      const child = spawn('nsenter', [`--net=${netnsPath}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      return child;
    },
    async dispose() {
      for (const child of children) {
        if (child.exitCode === null && child.pid) {
          child.kill('SIGKILL');
          await new Promise((resolve) => child.once('close', resolve));
        }
      }
      try {
        await manager.destroyAll();
      } finally {
        db.close();
        await rm(root, { recursive: true, force: true });
      }
    },
  };
}

/** A TCP port free on the host right now (the kernel's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Host state a network test must leave as it found it, limited to what one root can own (its
 * tag in namespace names and rule comments, the ports of its bridges), so tests of other roots
 * running at the same time do not disturb the comparison. `bridges` are the root's bridges.
 */
export function hostNetworkSnapshot(
  tag: string,
  bridges: readonly string[],
): { links: string; netns: string; nat: string; filter: string } {
  const links = bridges.flatMap((bridge) =>
    run('ip', ['-o', 'link', 'show', 'master', bridge])
      .out.split('\n')
      .map((line) => line.split(':')[1]?.trim().split('@')[0] ?? '')
      .filter(Boolean),
  );
  const own = (text: string) =>
    text
      .split('\n')
      .filter((line) => line.includes(tag))
      .join('\n');
  return {
    links: [...bridges.filter((b) => run('ip', ['link', 'show', b]).code === 0), ...links].sort().join(' '),
    netns: own(run('ip', ['netns', 'list']).out),
    nat: own(run('iptables-save', ['-t', 'nat']).out),
    filter: own(run('iptables-save', ['-t', 'filter']).out),
  };
}

/** Polls `check` until it returns true or `ms` pass. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}
