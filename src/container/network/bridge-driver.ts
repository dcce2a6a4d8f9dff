/**
 * The kernel side of a bridge network, driven through `ip -batch` (one process per namespace
 * touched) and files under /proc/sys:
 *
 *   host                                  container netns /run/netns/wharf-TAG-CID12
 *   BR (bridge, GATEWAY/PREFIX,           eth0 (IP/PREFIX, MAC 02:42:IP), lo up,
 *       ifalias wharf:TAG:NETID12)        default via GATEWAY (not on --internal networks)
 *     └── whXXXXXXXXXXX (veth) ───────────┘
 *
 * Deleting the namespace destroys its veths (and so their host ends); teardown deletes the host
 * ends as well, in case a process still holds the namespace open. Every step is idempotent: setup
 * after a half-done setup, and teardown of something already gone, both succeed.
 *
 * @example
 * await ensureBridge({ bridge: 'wharf0', alias: 'wharf:1a2b3c4d:0123456789ab', gateway: '10.88.0.1', prefix: 16 });
 * await createNamespace('wharf-1a2b3c4d-0123456789ab');
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ConflictError } from '../../errors/index.ts';
import { nodeCrypto } from '../../util/node-crypto.ts';
import { hostExec, hostExecRaw } from './host-exec.ts';

export const NETNS_DIR = '/run/netns';

export interface BridgeTarget {
  bridge: string;
  /** The ifalias marking the bridge as this network's: `wharf:TAG:NETID12`. */
  alias: string;
  gateway: string;
  prefix: number;
}

export interface InterfaceTarget {
  /** Name inside the container: eth0, eth1... */
  ifname: string;
  hostVeth: string;
  bridge: string;
  ip: string;
  prefix: number;
  mac: string;
  /** The default route's gateway, or undefined for none (internal networks, secondary ones). */
  defaultGateway?: string;
}

/** A host-side veth name (at most 15 bytes) unique per container and network. */
export function hostVethName(containerId: string, networkId: string): string {
  return `wh${nodeCrypto().createHash('sha256').update(`${containerId}/${networkId}`).digest('hex').slice(0, 11)}`;
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

export function linkAlias(name: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/ifalias`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** IFF_UP in the interface's flags. */
function isUp(name: string): boolean {
  try {
    return (Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16) & 1) === 1;
  } catch {
    return false;
  }
}

function writeSysctl(path: string, value: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === value) return;
  } catch {
    // fall through to the write, which reports the real problem
  }
  writeFileSync(path, value);
}

/** `net.ipv4.ip_forward=1`: needed for outbound NAT and published ports. */
export function enableIpForward(): void {
  writeSysctl('/proc/sys/net/ipv4/ip_forward', '1');
}

/**
 * Creates the bridge (or adopts it when it already carries this network's alias), gives it the
 * gateway address and brings it up; sets `route_localnet` so DNAT from 127.0.0.1 can leave
 * through it. Returns true when it had to create the bridge.
 */
export async function ensureBridge(target: BridgeTarget): Promise<boolean> {
  let created = false;
  if (!linkExists(target.bridge)) {
    const result = await hostExecRaw('ip', ['-b', '-'], {
      input: [
        `link add ${target.bridge} type bridge`,
        `link set ${target.bridge} alias ${target.alias}`,
        `addr replace ${target.gateway}/${target.prefix} dev ${target.bridge}`,
        `link set ${target.bridge} up`,
        '',
      ].join('\n'),
    });
    // "File exists": another process made it first; the checks below adopt it
    created = result.code === 0;
  }
  if (!created) {
    const alias = linkAlias(target.bridge);
    if (alias !== target.alias) {
      throw new ConflictError(
        `Cannot use bridge ${target.bridge}: the interface exists and is not this network's (alias "${alias ?? ''}")`,
      );
    }
    // the common case, every attach after the first: ours and up, no process to spawn
    if (isUp(target.bridge)) {
      writeSysctl(`/proc/sys/net/ipv4/conf/${target.bridge}/route_localnet`, '1');
      return false;
    }
    await hostExec('ip', ['-b', '-'], {
      input: `addr replace ${target.gateway}/${target.prefix} dev ${target.bridge}\nlink set ${target.bridge} up\n`,
      action: `configure bridge ${target.bridge}`,
    });
  }
  writeSysctl(`/proc/sys/net/ipv4/conf/${target.bridge}/route_localnet`, '1');
  return created;
}

/** Deletes the bridge when it exists and is this network's. */
export async function deleteBridge(bridge: string, alias: string): Promise<void> {
  if (!linkExists(bridge) || linkAlias(bridge) !== alias) return;
  const result = await hostExecRaw('ip', ['link', 'del', bridge]);
  if (result.code !== 0 && linkExists(bridge)) {
    await hostExec('ip', ['link', 'del', bridge], { action: `delete bridge ${bridge}` });
  }
}

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

/** `ip netns add`, unless the namespace file is already there. */
export async function createNamespace(name: string): Promise<string> {
  const path = netnsPath(name);
  if (!existsSync(path)) {
    const result = await hostExecRaw('ip', ['netns', 'add', name]);
    if (result.code !== 0 && !existsSync(path)) {
      throw new ConflictError(`Cannot create network namespace ${name}: ${result.stderr.trim()}`);
    }
  }
  return path;
}

/**
 * Creates the namespace when missing, then each interface's veth pair into it, attaches the host end to its bridge,
 * and configures the container end, `lo` and the default route: one `ip -batch` on the host and
 * one inside the namespace. Interfaces that exist already are replaced.
 */
export async function addInterfaces(
  namespace: string,
  interfaces: readonly InterfaceTarget[],
): Promise<void> {
  if (interfaces.length === 0) {
    await hostExec('ip', ['-n', namespace, 'link', 'set', 'lo', 'up'], { action: 'bring up lo' });
    return;
  }
  // leftovers of a half-done attempt: a stale host end (its peer went with the old namespace)
  const stale = interfaces.filter((i) => linkExists(i.hostVeth)).map((i) => `link del ${i.hostVeth}`);
  const host = [
    ...(existsSync(netnsPath(namespace)) ? [] : [`netns add ${namespace}`]),
    ...stale,
    ...interfaces.flatMap((i) => [
      `link add ${i.hostVeth} type veth peer name ${i.ifname} address ${i.mac} netns ${namespace}`,
      `link set ${i.hostVeth} master ${i.bridge} up`,
    ]),
  ];
  await hostExec('ip', ['-b', '-'], { input: `${host.join('\n')}\n`, action: 'create veth pairs' });
  const inside = ['link set lo up'];
  for (const i of interfaces) {
    inside.push(`addr replace ${i.ip}/${i.prefix} dev ${i.ifname}`, `link set ${i.ifname} up`);
    if (i.defaultGateway) inside.push(`route replace default via ${i.defaultGateway} dev ${i.ifname}`);
  }
  await hostExec('ip', ['-n', namespace, '-b', '-'], {
    input: `${inside.join('\n')}\n`,
    action: `configure the interfaces of namespace ${namespace}`,
  });
}

/** Deletes one interface (`network disconnect`): deleting its host end removes both. */
export async function removeInterface(hostVeth: string): Promise<void> {
  if (!linkExists(hostVeth)) return;
  const result = await hostExecRaw('ip', ['link', 'del', hostVeth]);
  if (result.code !== 0 && linkExists(hostVeth)) {
    throw new ConflictError(`Cannot delete interface ${hostVeth}: ${result.stderr.trim()}`);
  }
}

/** Deletes the host ends and the namespace; succeeds when they are already gone. */
export async function deleteNamespace(name: string, hostVeths: readonly string[]): Promise<void> {
  const lines = hostVeths.filter(linkExists).map((veth) => `link del ${veth}`);
  if (existsSync(netnsPath(name))) lines.push(`netns del ${name}`);
  if (lines.length === 0) return;
  await hostExecRaw('ip', ['-force', '-b', '-'], { input: `${lines.join('\n')}\n` });
  if (existsSync(netnsPath(name))) {
    await hostExec('ip', ['netns', 'del', name], { action: `delete network namespace ${name}` });
  }
}
