/**
 * The `container` management command and Docker's short forms of its verbs: `start`, `stop`,
 * `restart`, `kill`, `rm`, `ps` (`container ls`), `logs`, `container exec`, `attach`, `wait`, `top`,
 * `stats`, `pause`, `unpause`, `rename`, `update`, `container inspect`, `container prune`, and the
 * hidden `container cleanup` (conmon's exit command) and `container healthcheck` (one probe of the
 * health-check loop). `run` and `create` live in run.ts.
 */
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { containerPaths } from '../../container/container-paths.ts';
import type { ContainerRecord } from '../../container/container-records.ts';
import type { ContainerService, StatsSample } from '../../container/container-service.ts';
import { ContainerStartError } from '../../container/start-errors.ts';
import { InvalidArgumentError } from '../../errors/index.ts';
import type { BlkioEntry } from '../../runtime/cgroups.ts';
import { formatLogTimestamp } from '../../runtime/logs.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';
import type { StatsNumbers } from '../format/container-rows.ts';
import {
  attachedSession,
  collect,
  forEachContainer,
  inspectContainer,
  inspectOptions,
  parseBytes,
  parseFilterFlagsList,
  parseRestartPolicy,
  parseSwap,
  parseTimeFlag,
  withContainerService,
} from './container-common.ts';
import { registerContainerFsSubcommands } from './container-fs.ts';
import { addExec } from './exec.ts';
import { registerRunCommands } from './run.ts';

function addStart(parent: Command, context: CliContext): void {
  parent
    .command('start')
    .description('Start one or more stopped containers')
    .argument('<container...>', 'CONTAINER')
    .option('-a, --attach', 'attach STDOUT/STDERR and forward signals')
    .option('-i, --interactive', "attach container's STDIN")
    .option('--detach-keys <string>', 'override the key sequence for detaching a container')
    .action(
      async (names: string[], options: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
        await withContainerService(context, async (service) => {
          if (options.attach || options.interactive) {
            if (names.length > 1)
              throw new InvalidArgumentError('you cannot start and attach multiple containers at once');
            const since = BigInt(Date.now() - 1) * 1_000_000n;
            let record = await service.get(names[0]!);
            try {
              record = await service.start(record.id);
            } catch (error) {
              if (error instanceof ContainerStartError)
                throw new CliExit(error.exitCode, `Error: ${error.message}`);
              throw error;
            }
            const session = await attachedSession(service, record, {
              interactive: options.interactive === true && record.definition.Config.OpenStdin === true,
              tty: record.definition.Config.Tty === true,
              ...(options.detachKeys ? { detachKeys: options.detachKeys } : {}),
              sigProxy: true,
              since,
            });
            if (session.detached) return;
            process.exitCode = session.exitCode;
            await handleAttachedExit(service, record);
            return;
          }
          const failed: string[] = [];
          await forEachContainer(context, names, async (name) => {
            await service.start(name).catch((error: unknown) => {
              failed.push(name);
              throw error;
            });
            context.stdout.write(`${name}\n`);
          }).catch((error: unknown) => {
            // docker/cli's startContainersWithoutAttachments names them all at the end
            if (error instanceof CliExit && failed.length > 0)
              throw new CliExit(1, `Error: failed to start containers: ${failed.join(', ')}`);
            throw error;
          });
        });
      },
    );
}

/**
 * After an attached run ends, handle its exit here (as `run` does) unless a restart policy will
 * start it again: the container is stopped when the command returns, as Docker's.
 */
async function handleAttachedExit(service: ContainerService, record: ContainerRecord): Promise<void> {
  const policy = record.definition.HostConfig.RestartPolicy.Name;
  if (policy === '' || policy === 'no') await service.cleanup(record.id, record.generation);
}

function stopLike(parent: Command, context: CliContext, verb: 'stop' | 'restart'): void {
  parent
    .command(verb)
    .description(verb === 'stop' ? 'Stop one or more running containers' : 'Restart one or more containers')
    .argument('<container...>', 'CONTAINER')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container')
    .option('--timeout <seconds>', 'seconds to wait before killing the container (deprecated name)')
    .option('-s, --signal <signal>', 'signal to send to the container')
    .action(async (names: string[], options: { time?: string; timeout?: string; signal?: string }) => {
      const timeText = options.time ?? options.timeout;
      const timeoutSeconds = timeText === undefined ? undefined : Number(timeText);
      if (timeoutSeconds !== undefined && !Number.isInteger(timeoutSeconds)) {
        throw new InvalidArgumentError(`invalid argument "${timeText}" for "-t, --time" flag`);
      }
      await withContainerService(context, async (service) => {
        await forEachContainer(context, names, async (name) => {
          const stopOptions = {
            ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          };
          if (verb === 'stop') await service.stop(name, stopOptions);
          else await service.restart(name, stopOptions);
          context.stdout.write(`${name}\n`);
        });
      });
    });
}

function addKill(parent: Command, context: CliContext): void {
  parent
    .command('kill')
    .description('Kill one or more running containers')
    .argument('<container...>', 'CONTAINER')
    .option('-s, --signal <signal>', 'signal to send to the container', 'KILL')
    .action(async (names: string[], options: { signal: string }) => {
      await withContainerService(context, async (service) => {
        await forEachContainer(context, names, async (name) => {
          await service.kill(name, options.signal);
          context.stdout.write(`${name}\n`);
        });
      });
    });
}

function addRemove(parent: Command, context: CliContext, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description('Remove one or more containers')
    .argument('<container...>', 'CONTAINER')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .option('-l, --link', 'remove the specified link')
    .action(async (names: string[], options: { force?: boolean; volumes?: boolean }) => {
      await withContainerService(context, async (service) => {
        const force = options.force === true;
        await forEachContainer(
          context,
          names,
          async (item) => {
            await service.remove(item, { force, volumes: options.volumes === true });
            context.stdout.write(`${item}\n`);
          },
          { ignoreNotFound: force },
        );
      });
    });
}

function addList(parent: Command, context: CliContext, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description('List containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('-n, --last <int>', 'show n last created containers (includes all states)')
    .option('-l, --latest', 'show the latest created container (includes all states)')
    .option('-s, --size', 'display total file sizes')
    .option('--no-trunc', "don't truncate output")
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option(
      '--format <format>',
      "format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template",
    )
    .action(
      async (options: {
        all?: boolean;
        quiet?: boolean;
        last?: string;
        latest?: boolean;
        size?: boolean;
        trunc: boolean;
        filter: string[];
        format?: string;
      }) => {
        let limit: number | undefined;
        if (options.last !== undefined) {
          limit = Number(options.last);
          if (!Number.isInteger(limit))
            throw new InvalidArgumentError(`invalid argument "${options.last}" for "-n, --last" flag`);
          if (limit < 0) limit = undefined;
        }
        if (options.latest) limit = 1;
        // The formatter is loaded only by the verbs that print tables: exec, logs... start faster.
        const { CONTAINER_HEADER, checkContainerFormat, containerListFormat, containerRow } = await import(
          '../format/container-rows.ts'
        );
        const { ListingFormatter, TABLE_FORMAT } = await import('../format/formatter.ts');
        if (options.format) checkContainerFormat(options.format);
        const format = containerListFormat(
          options.format ?? TABLE_FORMAT,
          options.quiet === true,
          options.size === true,
        );
        const formatter = new ListingFormatter(format);
        const wantsSize = options.size === true || format.includes('.Size');
        await withContainerService(context, async (service) => {
          const list = await service.list({
            all: options.all === true,
            ...(limit !== undefined && limit > 0 ? { limit } : {}),
            size: wantsSize,
            filters: parseFilterFlagsList(options.filter),
          });
          const now = new Date();
          const createdAt = /CreatedAt|json|\{\{\s*\.\s*\}\}/.test(format) || !format.includes('{{');
          const rows = list.map((summary) => containerRow(summary, { trunc: options.trunc, now, createdAt }));
          context.stdout.write(formatter.render(rows, CONTAINER_HEADER));
        });
      },
    );
}

function addLogs(parent: Command, context: CliContext): void {
  parent
    .command('logs')
    .description('Fetch the logs of a container')
    .argument('<container>', 'CONTAINER')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <string>', 'number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option(
      '--since <string>',
      'show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)',
    )
    .option('--until <string>', 'show logs before a timestamp or relative (e.g. 42m)')
    .option('--details', 'show extra details provided to logs')
    .action(
      async (
        name: string,
        options: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string },
      ) => {
        let tail: number | undefined;
        if (options.tail !== 'all') {
          tail = Number(options.tail);
          if (!Number.isInteger(tail)) throw new InvalidArgumentError(`invalid tail value "${options.tail}"`);
          if (tail < 0) tail = undefined;
        }
        const since = options.since ? parseTimeFlag(options.since) : undefined;
        const until = options.until ? parseTimeFlag(options.until) : undefined;
        await withContainerService(context, async (service) => {
          const abort = new AbortController();
          const onSignal = () => abort.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          try {
            for await (const entry of service.logs(name, {
              follow: options.follow === true,
              ...(tail !== undefined ? { tail } : {}),
              ...(since !== undefined ? { since } : {}),
              ...(until !== undefined ? { until } : {}),
              signal: abort.signal,
            })) {
              const target = entry.stream === 'stderr' ? context.stderr : context.stdout;
              const prefix = options.timestamps ? `${formatLogTimestamp(entry.timestamp)} ` : '';
              const text = `${prefix}${entry.text}${entry.partial ? '' : '\n'}`;
              if (!target.write(text)) await new Promise((resolve) => target.once('drain', resolve));
            }
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        });
      },
    );
}

function addAttach(parent: Command, context: CliContext): void {
  parent
    .command('attach')
    .description('Attach local standard input, output, and error streams to a running container')
    .argument('<container>', 'CONTAINER')
    .option('--detach-keys <string>', 'override the key sequence for detaching a container')
    .option('--no-stdin', 'do not attach STDIN')
    .option('--sig-proxy <bool>', 'proxy all received signals to the process', 'true')
    .action(async (name: string, options: { detachKeys?: string; stdin: boolean; sigProxy: string }) => {
      await withContainerService(context, async (service) => {
        const record = await service.get(name);
        if (record.state !== 'running') {
          throw new InvalidArgumentError(
            record.state === 'paused'
              ? 'You cannot attach to a paused container, unpause it first'
              : 'You cannot attach to a stopped container, start it first',
          );
        }
        const session = await attachedSession(service, record, {
          interactive: options.stdin && record.definition.Config.OpenStdin === true,
          tty: record.definition.Config.Tty === true,
          ...(options.detachKeys ? { detachKeys: options.detachKeys } : {}),
          sigProxy: options.sigProxy !== 'false',
        });
        if (session.detached) return;
        process.exitCode = session.exitCode;
        await handleAttachedExit(service, record);
      });
    });
}

function addWait(parent: Command, context: CliContext): void {
  parent
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<container...>', 'CONTAINER')
    .action(async (names: string[]) => {
      await withContainerService(context, async (service) => {
        await forEachContainer(context, names, async (name) => {
          const result = await service.wait(name);
          context.stdout.write(`${result.StatusCode}\n`);
        });
      });
    });
}

function addInspect(parent: Command, context: CliContext): void {
  inspectOptions(
    parent
      .command('inspect')
      .description('Display detailed information on one or more containers')
      .argument('<container...>', 'CONTAINER'),
  ).action(async (names: string[], options: { format?: string; size?: boolean }) => {
    const { writeInspect } = await import('../format/inspect-writer.ts');
    const { withEngine } = await import('../engine-session.ts');
    await withEngine(context, (engine) =>
      writeInspect({
        refs: names,
        format: options.format,
        lookup: (ref) => inspectContainer(engine, ref, { size: options.size === true }),
        stdout: context.stdout,
      }),
    );
  });
}

function addTop(parent: Command, context: CliContext): void {
  parent
    .command('top')
    .description('Display the running processes of a container')
    .argument('<container>', 'CONTAINER')
    .argument('[ps-options...]', 'ps OPTIONS')
    .passThroughOptions()
    .action(async (name: string, psOptions: string[]) => {
      await withContainerService(context, async (service) => {
        const result = await service.top(name, psOptions.length > 0 ? psOptions : ['-ef']);
        const { alignColumns, DOCKER_TABLE } = await import('../format/tab-writer.ts');
        const lines = [result.Titles.join('\t'), ...result.Processes.map((row) => row.join('\t'))];
        // docker/cli's top writes with tabwriter.NewWriter(out, 20, 1, 3, ' ', 0): 20 wide, not 10
        context.stdout.write(alignColumns(`${lines.join('\n')}\n`, { ...DOCKER_TABLE, minWidth: 20 }));
      });
    });
}

function addStats(parent: Command, context: CliContext): void {
  parent
    .command('stats')
    .description('Display a live stream of container(s) resource usage statistics')
    .argument('[container...]', 'CONTAINER')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--no-trunc', "don't truncate output")
    .option('--format <format>', 'format output using a custom template')
    .action(
      async (
        names: string[],
        options: { all?: boolean; stream: boolean; trunc: boolean; format?: string },
      ) => {
        const { DEFAULT_STATS_TABLE, STATS_HEADER, statsRow } = await import('../format/container-rows.ts');
        const { ListingFormatter } = await import('../format/formatter.ts');
        const format = !options.format || options.format === 'table' ? DEFAULT_STATS_TABLE : options.format;
        const formatter = new ListingFormatter(format);
        await withContainerService(context, async (service) => {
          const targets =
            names.length > 0
              ? names
              : (await service.list({ all: options.all === true })).map((summary) => summary.Id);
          const abort = new AbortController();
          const onSignal = () => abort.abort();
          process.once('SIGINT', onSignal);
          try {
            let previous = new Map<string, Awaited<ReturnType<ContainerService['statsSample']>>>();
            for (const target of targets) previous.set(target, await service.statsSample(target));
            for (;;) {
              await new Promise((resolve) => setTimeout(resolve, 1000));
              if (abort.signal.aborted) return;
              const current = new Map<string, Awaited<ReturnType<ContainerService['statsSample']>>>();
              const rows = [];
              for (const target of targets) {
                const sample = await service.statsSample(target);
                current.set(target, sample);
                rows.push(
                  statsRow(statsNumbers(target, previous.get(target), sample), { trunc: options.trunc }),
                );
              }
              const text = formatter.render(rows, STATS_HEADER);
              if (options.stream && process.stdout.isTTY) context.stdout.write('\x1b[2J\x1b[H');
              context.stdout.write(text);
              if (!options.stream) return;
              previous = current;
            }
          } finally {
            process.off('SIGINT', onSignal);
          }
        });
      },
    );
}

function statsNumbers(
  container: string,
  before: Awaited<ReturnType<ContainerService['statsSample']>> | undefined,
  after: Awaited<ReturnType<ContainerService['statsSample']>>,
): StatsNumbers {
  const cgroup = after.cgroup;
  const running = cgroup !== undefined;
  const memory = cgroup?.memory;
  const usage = memory ? Math.max(0, memory.usage - (memory.inactiveFile ?? 0)) : 0;
  const limit =
    memory?.limit !== undefined && memory.limit < after.hostMemory ? memory.limit : after.hostMemory;
  let cpuPercent = 0;
  const cpuBefore = before?.cgroup?.cpu?.usageNanos;
  const cpuAfter = cgroup?.cpu?.usageNanos;
  if (before && cpuBefore !== undefined && cpuAfter !== undefined && after.read > before.read) {
    // Docker: container CPU time over system CPU time, times the CPUs: CPU time per wall time.
    cpuPercent = ((cpuAfter - cpuBefore) / ((after.read - before.read) * 1e6)) * 100;
  }
  return {
    id: after.id,
    name: after.name,
    container,
    cpuPercent,
    memoryUsage: usage,
    memoryLimit: limit,
    memoryPercent: limit > 0 ? (usage / limit) * 100 : 0,
    pids: cgroup?.pids?.current ?? 0,
    ...networkTotals(after.networks),
    ...blockTotals(cgroup?.blkio),
    running,
  };
}

/** docker-cli's calculateNetwork: received and sent bytes of every interface. */
function networkTotals(networks: StatsSample['networks']): { networkRx: number; networkTx: number } {
  let networkRx = 0;
  let networkTx = 0;
  for (const counters of Object.values(networks ?? {})) {
    networkRx += counters.rxBytes;
    networkTx += counters.txBytes;
  }
  return { networkRx, networkTx };
}

/** docker-cli's calculateBlockIO: ops starting with r/R are reads, w/W writes (v1 and v2 names). */
function blockTotals(entries: BlkioEntry[] | undefined): { blockRead: number; blockWrite: number } {
  let blockRead = 0;
  let blockWrite = 0;
  for (const entry of entries ?? []) {
    const first = entry.op.charAt(0).toLowerCase();
    if (first === 'r') blockRead += entry.value;
    else if (first === 'w') blockWrite += entry.value;
  }
  return { blockRead, blockWrite };
}

function addPause(parent: Command, context: CliContext, verb: 'pause' | 'unpause'): void {
  parent
    .command(verb)
    .description(
      verb === 'pause'
        ? 'Pause all processes within one or more containers'
        : 'Unpause all processes within one or more containers',
    )
    .argument('<container...>', 'CONTAINER')
    .action(async (names: string[]) => {
      await withContainerService(context, async (service) => {
        await forEachContainer(context, names, async (name) => {
          if (verb === 'pause') await service.pause(name);
          else await service.unpause(name);
          context.stdout.write(`${name}\n`);
        });
      });
    });
}

function addRename(parent: Command, context: CliContext): void {
  parent
    .command('rename')
    .description('Rename a container')
    .argument('<container>', 'CONTAINER')
    .argument('<new-name>', 'NEW_NAME')
    .action(async (name: string, newName: string) => {
      const [from, to] = [name.trim(), newName.trim()];
      if (from === '' || to === '') throw new CliExit(1, 'Error: Neither old nor new names may be empty');
      await withContainerService(context, async (service) => {
        // docker/cli's runRename: the daemon's error, then a line of its own
        await forEachContainer(context, [from], (item) =>
          service.rename(item, to).then(() => undefined),
        ).catch((error: unknown) => {
          if (error instanceof CliExit)
            throw new CliExit(1, `Error: failed to rename container named ${from}`);
          throw error;
        });
      });
    });
}

function addUpdate(parent: Command, context: CliContext): void {
  parent
    .command('update')
    .description('Update configuration of one or more containers')
    .argument('<container...>', 'CONTAINER')
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', 'swap limit equal to memory plus swap: -1 to enable unlimited swap')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <decimal>', 'number of CPUs')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpu-period <int>', 'limit CPU CFS period')
    .option('--cpu-quota <int>', 'limit CPU CFS quota')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <int>', 'tune container pids limit (set -1 for unlimited)')
    .option('--restart <policy>', 'restart policy to apply when a container exits')
    .action(
      async (
        names: string[],
        options: {
          memory?: string;
          memorySwap?: string;
          memoryReservation?: string;
          cpus?: string;
          cpuShares?: string;
          cpuPeriod?: string;
          cpuQuota?: string;
          cpusetCpus?: string;
          pidsLimit?: string;
          restart?: string;
        },
      ) => {
        const changes: import('../../container/container-service.ts').UpdateRequest = {};
        if (options.memory !== undefined) changes.Memory = parseBytes(options.memory, 'memory');
        if (options.memorySwap !== undefined) changes.MemorySwap = parseSwap(options.memorySwap);
        if (options.memoryReservation !== undefined) {
          changes.MemoryReservation = parseBytes(options.memoryReservation, 'memory-reservation');
        }
        if (options.cpus !== undefined) changes.NanoCpus = Math.round(Number(options.cpus) * 1e9);
        if (options.cpuShares !== undefined) changes.CpuShares = Number(options.cpuShares);
        if (options.cpuPeriod !== undefined) changes.CpuPeriod = Number(options.cpuPeriod);
        if (options.cpuQuota !== undefined) changes.CpuQuota = Number(options.cpuQuota);
        if (options.cpusetCpus !== undefined) changes.CpusetCpus = options.cpusetCpus;
        if (options.pidsLimit !== undefined) changes.PidsLimit = Number(options.pidsLimit);
        if (options.restart !== undefined) changes.RestartPolicy = parseRestartPolicy(options.restart);
        for (const [key, value] of Object.entries(changes)) {
          if (typeof value === 'number' && !Number.isFinite(value))
            throw new InvalidArgumentError(`invalid value for ${key}`);
        }
        if (Object.keys(changes).length === 0) {
          throw new InvalidArgumentError('you must provide one or more flags when using this command');
        }
        await withContainerService(context, async (service) => {
          await forEachContainer(context, names, async (name) => {
            await service.update(name, changes);
            context.stdout.write(`${name}\n`);
          });
        });
      },
    );
}

function addPrune(parent: Command, context: CliContext): void {
  parent
    .command('prune')
    .description('Remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', "provide filter values (e.g. 'until=<timestamp>')", collect, [])
    .action(async (options: { force?: boolean; filter: string[] }) => {
      if (!options.force) {
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        const answer = await rl.question(
          'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ',
        );
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) return;
      }
      await withContainerService(context, async (service) => {
        const report = await service.prune({ filters: parseFilterFlagsList(options.filter) });
        if (report.ContainersDeleted.length > 0) {
          context.stdout.write(`Deleted Containers:\n${report.ContainersDeleted.join('\n')}\n\n`);
        }
        const { humanSize } = await import('../format/units.ts');
        context.stdout.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
      });
    });
}

/** conmon's exit command: handles the exit of run N (see src/container/container-lifecycle.ts). */
function addCleanup(parent: Command, context: CliContext): void {
  parent
    .command('cleanup', { hidden: true })
    .description('Handle the exit of a container run (conmon runs this)')
    .argument('<container>', 'CONTAINER')
    .requiredOption('--generation <n>', 'the run whose exit to handle')
    .action(async (id: string, options: { generation: string }) => {
      // Removed meanwhile (and perhaps its whole root): nothing to do, and nothing to create.
      if (!existsSync(containerPaths(context.root(), id).dir)) return;
      await withContainerService(context, async (service) => {
        await service.cleanup(id, Number(options.generation));
      });
    });
}

/** One probe of the health-check loop: prints the seconds until the next one. */
function addHealthcheck(parent: Command, context: CliContext): void {
  parent
    .command('healthcheck', { hidden: true })
    .description('Run one health probe of a container run (its health-check loop runs this)')
    .argument('<container>', 'CONTAINER')
    .requiredOption('--generation <n>', 'the run being checked')
    .action(async (id: string, options: { generation: string }) => {
      if (!existsSync(containerPaths(context.root(), id).dir)) throw new CliExit(1);
      await withContainerService(context, async (service) => {
        const seconds = await service.healthcheck(id, Number(options.generation));
        context.stdout.write(`${seconds.toFixed(3)}\n`);
      });
    });
}

/** Every container verb, under `parent` (the `container` group, or the program for short forms). */
function addVerbs(parent: Command, context: CliContext, group: boolean): void {
  addStart(parent, context);
  stopLike(parent, context, 'stop');
  stopLike(parent, context, 'restart');
  addKill(parent, context);
  addLogs(parent, context);
  addAttach(parent, context);
  addWait(parent, context);
  addTop(parent, context);
  addStats(parent, context);
  addPause(parent, context, 'pause');
  addPause(parent, context, 'unpause');
  addRename(parent, context);
  addUpdate(parent, context);
  if (group) {
    // the top-level `exec` is exec.ts's own module (a bundle of its own: see that file), which
    // hands a container that does not plainly run on to this one, over the full service
    addExec(parent, (name, request, use) =>
      withContainerService(context, async (service) => use(await service.exec(name, request))),
    );
    addRemove(parent, context, 'rm', ['remove']);
    addList(parent, context, 'ls', ['ps', 'list']);
    addInspect(parent, context);
    addPrune(parent, context);
    addCleanup(parent, context);
    addHealthcheck(parent, context);
    registerRunCommands(parent, context);
    registerContainerFsSubcommands(parent, context);
  } else {
    addRemove(parent, context, 'rm');
    addList(parent, context, 'ps');
  }
}

export function register(program: Command, context: CliContext): void {
  const group = program.command('container').description('Manage containers');
  addVerbs(group, context, true);
  addVerbs(program, context, false);
}
