/**
 * The network verbs with Docker's flags and output: `network create`, `ls`, `inspect`, `rm`,
 * `prune`, `connect`, `disconnect`, and `port` (a container's published ports).
 */
import type { Command } from 'commander';
import { parseCidr } from '../../container/network/ipv4.ts';
import type { PublishedPort } from '../../container/network/network-store.ts';
import type { NetworkService } from '../../engine/network-service.ts';
import { InvalidArgumentError, WharfError } from '../../errors/index.ts';
import { CliExit } from '../cli-error.ts';
import { confirmPrompt } from '../confirm-prompt.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { collectFilter, type Filters } from '../filter-option.ts';
import { DEFAULT_QUIET_FORMAT, ListingFormatter, listingRow, TABLE_FORMAT } from '../format/formatter.ts';
import { writeInspect } from '../format/inspect-writer.ts';

const DEFAULT_NETWORK_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
const NETWORK_HEADER = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

async function withNetworks<T>(
  context: CliContext,
  fn: (networks: NetworkService) => Promise<T>,
): Promise<T> {
  return withEngine(context, async (engine) => {
    const { openNetworkService } = await import('../../engine/network-service.ts');
    return fn(await openNetworkService(engine));
  });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `KEY=VALUE` list to a map (`--label`, `-o`). */
function keyValues(entries: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq === 0) throw new InvalidArgumentError(`invalid argument "${entry}" for "${flag}" flag: empty key`);
    if (eq < 0) out[entry] = '';
    else out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

function formatPort(port: PublishedPort): string {
  return `${port.hostIp || '0.0.0.0'}:${port.hostPort}`;
}

function addCreate(group: Command, context: CliContext): void {
  group
    .command('create')
    .description('Create a network')
    .argument('<network>', 'network name')
    .option('-d, --driver <driver>', 'Driver to manage the Network', 'bridge')
    .option('--subnet <subnet>', 'Subnet in CIDR format that represents a network segment', collect)
    .option('--gateway <gateway>', 'IPv4 Gateway for the master subnet', collect)
    .option('--ip-range <range>', 'Allocate container ip from a sub-range', collect)
    .option('--internal', 'Restrict external access to the network')
    .option('--label <label>', 'Set metadata on a network', collect)
    .option('-o, --opt <opt>', 'Set driver specific options', collect)
    .option('--attachable', 'Enable manual container attachment (always on here)')
    .option('--ipv6', 'Enable IPv6 networking (not supported)')
    .action(
      async (
        name: string,
        options: {
          driver: string;
          subnet?: string[];
          gateway?: string[];
          ipRange?: string[];
          internal?: boolean;
          label?: string[];
          opt?: string[];
          ipv6?: boolean;
        },
      ) => {
        if ((options.subnet?.length ?? 0) > 1)
          throw new InvalidArgumentError('only one --subnet is supported');
        if (options.subnet?.[0]) parseCidr(options.subnet[0]);
        const config: { Subnet?: string; Gateway?: string; IPRange?: string } = {};
        if (options.subnet?.[0]) config.Subnet = options.subnet[0];
        if (options.gateway?.[0]) config.Gateway = options.gateway[0];
        if (options.ipRange?.[0]) config.IPRange = options.ipRange[0];
        const created = await withNetworks(context, (networks) =>
          networks.create({
            Name: name,
            Driver: options.driver,
            Internal: options.internal === true,
            EnableIPv6: options.ipv6 === true,
            IPAM: { Config: Object.keys(config).length ? [config] : [] },
            Labels: keyValues(options.label ?? [], '--label'),
            Options: keyValues(options.opt ?? [], '--opt'),
          }),
        );
        context.stdout.write(`${created.Id}\n`);
      },
    );
}

/**
 * Go's sortorder.NaturalLess as a comparator: runs of digits compare by value ("n2" < "n10"),
 * everything else byte by byte.
 */
function naturalCompare(a: string, b: string): number {
  const chunks = (text: string) => text.match(/\d+|\D+/g) ?? [];
  const left = chunks(a);
  const right = chunks(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i] as string;
    const y = right[i] as string;
    if (x === y) continue;
    const digits = /^\d/.test(x) && /^\d/.test(y);
    if (digits && BigInt(x) !== BigInt(y)) return BigInt(x) < BigInt(y) ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return left.length - right.length;
}

function addList(group: Command, context: CliContext): void {
  group
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collectFilter)
    .option(
      '--format <format>',
      'Format output using a custom template: table, table TEMPLATE, json, TEMPLATE',
    )
    .option('--no-trunc', 'Do not truncate the output')
    .option('-q, --quiet', 'Only display network IDs')
    .action(async (options: { filter?: Filters; format?: string; trunc: boolean; quiet?: boolean }) => {
      let format = options.format || TABLE_FORMAT;
      if (options.quiet && !options.format) format = DEFAULT_QUIET_FORMAT;
      if (format === TABLE_FORMAT) format = DEFAULT_NETWORK_TABLE;
      const formatter = new ListingFormatter(format);
      const list = await withNetworks(context, (networks) => networks.list(options.filter ?? {}));
      // docker-cli sorts the daemon's answer by name (sortorder.NaturalLess) before printing
      list.sort((a, b) => naturalCompare(a.Name, b.Name));
      const rows = list.map((network) =>
        listingRow('*formatter.networkContext', {
          ID: options.trunc ? network.Id.slice(0, 12) : network.Id,
          Name: network.Name,
          Driver: network.Driver,
          Scope: network.Scope,
          // IPv4 is always on in Wharf (EnableIPv4 in API 1.47+)
          IPv4: 'true',
          IPv6: String(network.EnableIPv6),
          Internal: String(network.Internal),
          Labels: Object.entries(network.Labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
          CreatedAt: network.Created,
          Label: (name: string) => network.Labels[name] ?? '',
        }),
      );
      context.stdout.write(formatter.render(rows, NETWORK_HEADER));
    });
}

function addInspect(group: Command, context: CliContext): void {
  group
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<network...>', 'networks to inspect')
    .option('-f, --format <format>', "Format output using a custom template: 'json' or a Go template")
    .option('-v, --verbose', 'Verbose output for diagnostics')
    .action(async (refs: string[], options: { format?: string }) => {
      await withNetworks(context, (networks) =>
        writeInspect({
          refs,
          format: options.format,
          stdout: context.stdout,
          lookup: async (ref) => ({ raw: await networks.inspect(ref) }),
        }),
      );
    });
}

function addRemove(group: Command, context: CliContext): void {
  group
    .command('rm')
    .aliases(['remove'])
    .description('Remove one or more networks')
    .argument('<network...>', 'networks to remove')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(async (refs: string[], options: { force?: boolean }) => {
      const errors: string[] = [];
      await withNetworks(context, async (networks) => {
        for (const ref of refs) {
          try {
            await networks.remove(ref);
            context.stdout.write(`${ref}\n`);
          } catch (error) {
            if (!(error instanceof WharfError)) throw error;
            if (options.force && error.category === 'NotFound') continue;
            errors.push(`Error response from daemon: ${error.message}`);
          }
        }
      });
      if (errors.length) throw new CliExit(1, errors.join('\n'));
    });
}

function addPrune(group: Command, context: CliContext): void {
  group
    .command('prune')
    .description('Remove all unused networks')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (options: { filter?: Filters; force?: boolean }) => {
      if (options.force !== true) {
        const warning =
          'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';
        if (!(await confirmPrompt(context, warning))) return;
      }
      const report = await withNetworks(context, (networks) => networks.prune(options.filter ?? {}));
      if (report.NetworksDeleted.length > 0) {
        context.stdout.write(`Deleted Networks:\n${report.NetworksDeleted.join('\n')}\n\n`);
      }
    });
}

function addConnect(group: Command, context: CliContext): void {
  group
    .command('connect')
    .description('Connect a container to a network')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <alias>', 'Add network-scoped alias for the container', collect)
    .option('--ip <address>', 'IPv4 address (e.g., "172.30.100.104")')
    .action(async (network: string, container: string, options: { alias?: string[]; ip?: string }) => {
      const settings: { aliases?: string[]; ipv4Address?: string } = {};
      if (options.alias) settings.aliases = options.alias;
      if (options.ip) settings.ipv4Address = options.ip;
      await withNetworks(context, (networks) => networks.connect(network, container, settings));
    });
}

function addDisconnect(group: Command, context: CliContext): void {
  group
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .action(async (network: string, container: string, options: { force?: boolean }) => {
      await withNetworks(context, (networks) =>
        networks.disconnect(network, container, options.force === true),
      );
    });
}

function addPort(program: Command, context: CliContext): void {
  program
    .command('port')
    .description('List port mappings or a specific mapping for the container')
    .argument('<container>')
    .argument('[port]', 'PRIVATE_PORT[/PROTO]')
    .action(async (container: string, port: string | undefined) => {
      const ports = await withNetworks(context, async (networks) => networks.ports(container, port));
      const sorted = [...ports].sort(
        (a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol),
      );
      const lines = sorted.map((p) =>
        port ? formatPort(p) : `${p.containerPort}/${p.protocol} -> ${formatPort(p)}`,
      );
      if (lines.length) context.stdout.write(`${lines.join('\n')}\n`);
    });
}

export function register(program: Command, context: CliContext): void {
  const group = program.command('network').description('Manage networks');
  addCreate(group, context);
  addList(group, context);
  addInspect(group, context);
  addRemove(group, context);
  addPrune(group, context);
  addConnect(group, context);
  addDisconnect(group, context);
  addPort(program, context);
}
