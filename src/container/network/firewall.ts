/**
 * Wharf's iptables rules (the nft backend through iptables-nft), all in chains of its own, so
 * it never changes another chain's policy or rules; the only rules it puts in the built-in
 * chains are the jumps into its chains.
 *
 *   filter  FORWARD            -> WHARF-FORWARD (inserted first, so a DROP policy left by
 *                                 dockerd does not drop Wharf's traffic)
 *           WHARF-FORWARD      -j WHARF-ISOLATION, then per network:
 *                                 outbound: -i BR ACCEPT; -o BR RELATED,ESTABLISHED ACCEPT;
 *                                           -o BR ctstate DNAT ACCEPT (published ports)
 *                                 internal: -i BR -o BR ACCEPT; -i BR DROP; -o BR DROP
 *           WHARF-ISOLATION    per network: -i BR ! -o BR -> WHARF-ISOLATION-2
 *           WHARF-ISOLATION-2  per network: -o BR DROP (traffic between two Wharf bridges)
 *   nat     PREROUTING, OUTPUT -m addrtype --dst-type LOCAL -> WHARF-DNAT
 *           POSTROUTING        -> WHARF-POSTROUTING
 *           WHARF-DNAT         per published port: [-d HOSTIP] -p P --dport HP DNAT CIP:CP
 *           WHARF-POSTROUTING  per outbound network: -s SUBNET ! -o BR MASQUERADE;
 *                              -o BR --src-type LOCAL MASQUERADE (host loopback into a
 *                              container: with route_localnet=1 on BR, see docs/networking.md)
 *
 * Every rule carries a comment naming its owner (`wharf-net:TAG:NETID12`,
 * `wharf-ctr:TAG:CID12`, TAG naming the store root), so removal and the crash sweep find the
 * rules of one network or container, and of one root only, in `iptables-save` output.
 *
 * @example
 * await addNetworkRules({ tag, id, bridge: 'wharf0', subnet: '10.88.0.0/16', internal: false });
 */
import { hostExec, hostExecRaw } from './host-exec.ts';
import type { PublishedPort } from './network-store.ts';

export interface NetworkRuleTarget {
  /** The store root's tag (see `rootTag`). */
  tag: string;
  id: string;
  bridge: string;
  subnet: string;
  internal: boolean;
}

export interface PortRuleTarget {
  tag: string;
  containerId: string;
  containerIp: string;
  ports: readonly PublishedPort[];
}

export function networkComment(tag: string, networkId: string): string {
  return `wharf-net:${tag}:${networkId.slice(0, 12)}`;
}

export function containerComment(tag: string, containerId: string): string {
  return `wharf-ctr:${tag}:${containerId.slice(0, 12)}`;
}

const FILTER_CHAINS = ['WHARF-FORWARD', 'WHARF-ISOLATION', 'WHARF-ISOLATION-2'];
const NAT_CHAINS = ['WHARF-DNAT', 'WHARF-POSTROUTING'];

interface SavedTables {
  filter: string[];
  nat: string[];
}

async function saveTables(): Promise<SavedTables> {
  const [filter, nat] = await Promise.all([
    hostExec('iptables-save', ['-t', 'filter'], { action: 'read the filter table' }),
    hostExec('iptables-save', ['-t', 'nat'], { action: 'read the nat table' }),
  ]);
  return { filter: filter.split('\n'), nat: nat.split('\n') };
}

async function restore(text: string, action: string): Promise<void> {
  await hostExec('iptables-restore', ['--noflush', '-w', '5'], { input: text, action });
}

/** Creates Wharf's chains and the jumps into them where missing. Idempotent. */
export async function ensureFirewallBase(saved?: SavedTables): Promise<void> {
  const tables = saved ?? (await saveTables());
  const has = (lines: string[], line: string) => lines.some((l) => l.trim() === line);
  const hasChain = (lines: string[], chain: string) => lines.some((l) => l.startsWith(`:${chain} `));
  const filter: string[] = [];
  for (const chain of FILTER_CHAINS) if (!hasChain(tables.filter, chain)) filter.push(`:${chain} - [0:0]`);
  if (!has(tables.filter, '-A WHARF-FORWARD -j WHARF-ISOLATION'))
    filter.push('-I WHARF-FORWARD 1 -j WHARF-ISOLATION');
  if (!has(tables.filter, '-A FORWARD -j WHARF-FORWARD')) filter.push('-I FORWARD 1 -j WHARF-FORWARD');
  const nat: string[] = [];
  for (const chain of NAT_CHAINS) if (!hasChain(tables.nat, chain)) nat.push(`:${chain} - [0:0]`);
  for (const hook of ['PREROUTING', 'OUTPUT']) {
    if (!has(tables.nat, `-A ${hook} -m addrtype --dst-type LOCAL -j WHARF-DNAT`)) {
      nat.push(`-A ${hook} -m addrtype --dst-type LOCAL -j WHARF-DNAT`);
    }
  }
  if (!has(tables.nat, '-A POSTROUTING -j WHARF-POSTROUTING'))
    nat.push('-A POSTROUTING -j WHARF-POSTROUTING');
  if (filter.length === 0 && nat.length === 0) return;
  let text = '';
  if (filter.length) text += `*filter\n${filter.join('\n')}\nCOMMIT\n`;
  if (nat.length) text += `*nat\n${nat.join('\n')}\nCOMMIT\n`;
  await restore(text, "create Wharf's iptables chains");
}

/** The rules of one network, as iptables-restore lines of each table. */
export function networkRules(target: NetworkRuleTarget): { filter: string[]; nat: string[] } {
  const c = `-m comment --comment ${networkComment(target.tag, target.id)}`;
  const br = target.bridge;
  const filter = [
    `-A WHARF-ISOLATION -i ${br} ! -o ${br} ${c} -j WHARF-ISOLATION-2`,
    `-A WHARF-ISOLATION-2 -o ${br} ${c} -j DROP`,
  ];
  const nat: string[] = [];
  if (target.internal) {
    filter.push(
      `-A WHARF-FORWARD -i ${br} -o ${br} ${c} -j ACCEPT`,
      `-A WHARF-FORWARD -i ${br} ${c} -j DROP`,
      `-A WHARF-FORWARD -o ${br} ${c} -j DROP`,
    );
  } else {
    filter.push(
      `-A WHARF-FORWARD -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED ${c} -j ACCEPT`,
      `-A WHARF-FORWARD -o ${br} -m conntrack --ctstate DNAT ${c} -j ACCEPT`,
      `-A WHARF-FORWARD -i ${br} ${c} -j ACCEPT`,
    );
    nat.push(
      `-A WHARF-POSTROUTING -s ${target.subnet} ! -o ${br} ${c} -j MASQUERADE`,
      `-A WHARF-POSTROUTING -o ${br} -m addrtype --src-type LOCAL ${c} -j MASQUERADE`,
    );
  }
  return { filter, nat };
}

/** The DNAT rules of one container's published ports. */
export function portRules(target: PortRuleTarget): string[] {
  const c = `-m comment --comment ${containerComment(target.tag, target.containerId)}`;
  return target.ports.map((port) => {
    const destination = port.hostIp && port.hostIp !== '0.0.0.0' ? `-d ${port.hostIp}/32 ` : '';
    return (
      `-A WHARF-DNAT ${destination}-p ${port.protocol} -m ${port.protocol} --dport ${port.hostPort} ${c} ` +
      `-j DNAT --to-destination ${target.containerIp}:${port.containerPort}`
    );
  });
}

function tableText(filter: readonly string[], nat: readonly string[]): string {
  let text = '';
  if (filter.length) text += `*filter\n${filter.join('\n')}\nCOMMIT\n`;
  if (nat.length) text += `*nat\n${nat.join('\n')}\nCOMMIT\n`;
  return text;
}

/** Deletes every rule whose comment is `comment` (or starts with `prefix`) in both tables. */
async function removeRulesMatching(
  match: (comment: string) => boolean,
  saved?: SavedTables,
): Promise<SavedTables> {
  const tables = saved ?? (await saveTables());
  const pick = (lines: string[]) =>
    lines
      .filter((line) => {
        if (!line.startsWith('-A WHARF-')) return false;
        const comment = /--comment "?([^\s"]+)"?/.exec(line)?.[1];
        return comment !== undefined && match(comment);
      })
      .map((line) => `-D${line.slice(2)}`);
  const filter = pick(tables.filter);
  const nat = pick(tables.nat);
  if (filter.length || nat.length) await restore(tableText(filter, nat), 'delete Wharf iptables rules');
  const deleted = new Set([...filter, ...nat].map((line) => `-A${line.slice(2)}`));
  return {
    filter: tables.filter.filter((line) => !deleted.has(line)),
    nat: tables.nat.filter((line) => !deleted.has(line)),
  };
}

/** Replaces the rules of one network (idempotent: existing ones are deleted first). */
export async function addNetworkRules(target: NetworkRuleTarget): Promise<void> {
  const comment = networkComment(target.tag, target.id);
  const remaining = await removeRulesMatching((c) => c === comment);
  await ensureFirewallBase(remaining);
  const rules = networkRules(target);
  await restore(tableText(rules.filter, rules.nat), `add the iptables rules of bridge ${target.bridge}`);
}

export async function removeNetworkRules(tag: string, networkId: string): Promise<void> {
  const comment = networkComment(tag, networkId);
  await removeRulesMatching((c) => c === comment);
}

/** Adds a container's DNAT rules; creates the base chains when they are missing (after a reboot). */
export async function addPortRules(target: PortRuleTarget): Promise<void> {
  if (target.ports.length === 0) return;
  const text = tableText([], portRules(target));
  const first = await hostExecRaw('iptables-restore', ['--noflush', '-w', '5'], { input: text });
  if (first.code === 0) return;
  await ensureFirewallBase();
  await restore(text, 'add the published ports of a container');
}

/**
 * Deletes a container's DNAT rules: first by their exact text (one iptables-restore), and when
 * that fails (a rule is already gone) by scanning `iptables-save` for the container's comment.
 */
export async function removePortRules(target: PortRuleTarget): Promise<void> {
  // ports are recorded before their rules are added: none recorded, none added
  if (target.ports.length === 0) return;
  {
    const text = tableText(
      [],
      portRules(target).map((line) => `-D${line.slice(2)}`),
    );
    const result = await hostExecRaw('iptables-restore', ['--noflush', '-w', '5'], { input: text });
    if (result.code === 0) return;
  }
  const comment = containerComment(target.tag, target.containerId);
  await removeRulesMatching((c) => c === comment);
}

/**
 * Removes every rule of this root (`tag`) whose owner is not in `keep` (comments of live
 * networks and containers): the crash sweep's firewall part. Returns how many owners it removed.
 */
export async function sweepRules(tag: string, keep: ReadonlySet<string>): Promise<number> {
  const removed = new Set<string>();
  await removeRulesMatching((comment) => {
    const parts = comment.split(':');
    if (parts[1] !== tag || keep.has(comment)) return false;
    removed.add(comment);
    return true;
  });
  return removed.size;
}

/** Every Wharf comment present in the tables (for tests and the deep sweep). */
export async function listRuleOwners(): Promise<string[]> {
  const tables = await saveTables();
  const owners = new Set<string>();
  for (const line of [...tables.filter, ...tables.nat]) {
    const comment = /--comment "?(wharf-(?:net|ctr):[^\s"]+)"?/.exec(line)?.[1];
    if (comment) owners.add(comment);
  }
  return [...owners];
}

/**
 * Deletes Wharf's chains and the jumps into them when no Wharf rule is left (the last root's
 * last network is gone). Each table is one atomic batch: if another root added a rule in the
 * meantime, deleting its chain fails and the whole batch, jumps included, is not applied.
 */
export async function removeFirewallBaseIfUnused(): Promise<boolean> {
  const tables = await saveTables();
  const rulesIn = (lines: string[], chains: string[]) =>
    lines.some(
      (line) => chains.some((chain) => line.startsWith(`-A ${chain} `)) && line.includes('--comment'),
    );
  if (rulesIn(tables.filter, FILTER_CHAINS) || rulesIn(tables.nat, NAT_CHAINS)) return false;
  const hasLine = (lines: string[], line: string) => lines.some((l) => l.trim() === line);
  const hasChain = (lines: string[], chain: string) => lines.some((l) => l.startsWith(`:${chain} `));
  const filter: string[] = [];
  if (hasLine(tables.filter, '-A FORWARD -j WHARF-FORWARD')) filter.push('-D FORWARD -j WHARF-FORWARD');
  if (hasLine(tables.filter, '-A WHARF-FORWARD -j WHARF-ISOLATION'))
    filter.push('-D WHARF-FORWARD -j WHARF-ISOLATION');
  for (const chain of FILTER_CHAINS) if (hasChain(tables.filter, chain)) filter.push(`-X ${chain}`);
  const nat: string[] = [];
  for (const hook of ['PREROUTING', 'OUTPUT']) {
    const line = `-A ${hook} -m addrtype --dst-type LOCAL -j WHARF-DNAT`;
    if (hasLine(tables.nat, line)) nat.push(`-D${line.slice(2)}`);
  }
  if (hasLine(tables.nat, '-A POSTROUTING -j WHARF-POSTROUTING'))
    nat.push('-D POSTROUTING -j WHARF-POSTROUTING');
  for (const chain of NAT_CHAINS) if (hasChain(tables.nat, chain)) nat.push(`-X ${chain}`);
  let removed = true;
  for (const [table, lines] of [
    ['filter', filter],
    ['nat', nat],
  ] as const) {
    if (lines.length === 0) continue;
    const result = await hostExecRaw('iptables-restore', ['--noflush', '-w', '5'], {
      input: `*${table}\n${lines.join('\n')}\nCOMMIT\n`,
    });
    if (result.code !== 0) removed = false;
  }
  return removed;
}
