/**
 * `wharf run` and `wharf create` (also `container run`, `container create`), with Docker's flags.
 * Errors of Wharf's own end `run` with 125, a command that is not found with 127, one that cannot
 * be invoked with 126, as Docker's; otherwise `run` exits with the container's code.
 *
 * Networking: the default `bridge` network, a user network (`--network NAME`, with
 * `--network-alias` and `--ip`), `none` (only `lo`) or `host`; `-p`/`-P` publish ports,
 * `--dns*` and `--add-host` shape /etc/resolv.conf and /etc/hosts (src/container/network).
 * Mounts: `-v`, `--mount`, `--tmpfs`, `--volumes-from` (src/container/volume).
 *
 * Attached `run` streams the container's output live from conmon's log, feeds stdin with `-i`
 * (through conmon's attach socket), and with `-t` puts the terminal in raw mode (Ctrl-P Ctrl-Q
 * detaches, resizes are forwarded). It handles the exit itself (unmount, `--rm`), so the exit
 * command conmon runs a second later finds nothing to do.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { type Command, Option } from 'commander';
import type { CreateContainerRequest } from '../../container/container-service.ts';
import { deviceMapping } from '../../container/container-spec.ts';
import {
  type ContainerConfig,
  defaultHostConfig,
  type HostConfig,
  type Ulimit,
} from '../../container/docker-types.ts';
import { parsePortRange, parsePortSpecs, splitProtoPort } from '../../container/network/port-spec.ts';
import { ContainerStartError } from '../../container/start-errors.ts';
import { volumeFlagFields } from '../../container/volume/mount-spec.ts';
import { InvalidArgumentError, WharfError } from '../../errors/index.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';
import { CidFile } from './cid-file.ts';
import {
  attachedSession,
  collect,
  parseBytes,
  parseDurationFlag,
  parseEnvValue,
  parseRestartPolicy,
  parseSwap,
  readKeyValueFile,
  withContainers,
} from './container-common.ts';

export interface CreateFlags {
  name?: string;
  env: string[];
  envFile: string[];
  label: string[];
  labelFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  domainname?: string;
  readOnly?: boolean;
  network?: string;
  /** Docker's hidden spellings of --network, --network-alias and --dns-option. */
  net?: string;
  netAlias?: string[];
  dnsOpt?: string[];
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  ulimit: string[];
  shmSize?: string;
  capAdd: string[];
  capDrop: string[];
  privileged?: boolean;
  device: string[];
  securityOpt: string[];
  restart?: string;
  stopSignal?: string;
  stopTimeout?: string;
  init?: boolean;
  logDriver?: string;
  logOpt: string[];
  detachKeys?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  noHealthcheck?: boolean;
  rm?: boolean;
  interactive?: boolean;
  tty?: boolean;
  runtime?: string;
  cgroupParent?: string;
  groupAdd: string[];
  oomScoreAdj?: string;
  sysctl: string[];
  tmpfs: string[];
  publish: string[];
  publishAll?: boolean;
  expose: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
  networkAlias: string[];
  ip?: string;
  volume: string[];
  mount: string[];
  volumesFrom: string[];
  volumeDriver?: string;
  cidfile?: string;
  platform?: string;
  pull?: string;
  quiet?: boolean;
}

/** The flags `create` and `run` share. */
function addCreateFlags(command: Command): Command {
  return command
    .option('--name <string>', 'assign a name to the container')
    .option('-e, --env <list>', 'set environment variables', collect, [])
    .option('--env-file <file>', 'read in a file of environment variables', collect, [])
    .option('-l, --label <list>', 'set meta data on a container', collect, [])
    .option('--label-file <file>', 'read in a line delimited file of labels', collect, [])
    .option('-w, --workdir <string>', 'working directory inside the container')
    .option('-u, --user <string>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('--entrypoint <string>', 'overwrite the default ENTRYPOINT of the image')
    .option('-h, --hostname <string>', 'container host name')
    .option('--domainname <string>', 'container NIS domain name')
    .option('--read-only', "mount the container's root filesystem as read only")
    .option('--network <network>', 'connect a container to a network (bridge, a network name, none, host)')
    .addOption(new Option('--net <network>', 'the same as --network').hideHelp())
    .option('--network-alias <list>', 'add network-scoped alias for the container', collect, [])
    .addOption(
      new Option('--net-alias <list>', 'the same as --network-alias')
        .argParser(collect)
        .default([])
        .hideHelp(),
    )
    .option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('-p, --publish <list>', "publish a container's port(s) to the host", collect, [])
    .option('-P, --publish-all', 'publish all exposed ports to random ports')
    .option('--expose <list>', 'expose a port or a range of ports', collect, [])
    .option('--dns <list>', 'set custom DNS servers', collect, [])
    .option('--dns-search <list>', 'set custom DNS search domains', collect, [])
    .option('--dns-option <list>', 'set DNS options', collect, [])
    .addOption(
      new Option('--dns-opt <list>', 'the same as --dns-option').argParser(collect).default([]).hideHelp(),
    )
    .option('--add-host <list>', 'add a custom host-to-IP mapping (host:ip)', collect, [])
    .option('-v, --volume <list>', 'bind mount a volume', collect, [])
    .option('--mount <mount>', 'attach a filesystem mount to the container', collect, [])
    .option('--volumes-from <list>', 'mount volumes from the specified container(s)', collect, [])
    .option('--volume-driver <string>', 'optional volume driver for the container')
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <decimal>', 'number of CPUs')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpu-period <int>', 'limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <int>', 'limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <int>', 'tune container pids limit (set -1 for unlimited)')
    .option('--ulimit <ulimit>', 'ulimit options', collect, [])
    .option('--shm-size <bytes>', 'size of /dev/shm')
    .option('--cap-add <list>', 'add Linux capabilities', collect, [])
    .option('--cap-drop <list>', 'drop Linux capabilities', collect, [])
    .option('--privileged', 'give extended privileges to this container')
    .option('--device <list>', 'add a host device to the container', collect, [])
    .option('--security-opt <list>', 'security options', collect, [])
    .option('--restart <policy>', 'restart policy to apply when a container exits', 'no')
    .option('--stop-signal <signal>', 'signal to stop the container')
    .option('--stop-timeout <int>', 'timeout (in seconds) to stop a container')
    .option('--init', 'run an init inside the container that forwards signals and reaps processes')
    .option('--log-driver <string>', 'logging driver for the container (k8s-file)')
    .option('--log-opt <list>', 'log driver options (max-size)', collect, [])
    .option('--detach-keys <string>', 'override the key sequence for detaching a container')
    .option('--health-cmd <string>', 'command to run to check health')
    .option('--health-interval <duration>', 'time between running the check (ms|s|m|h)')
    .option('--health-timeout <duration>', 'maximum time to allow one check to run (ms|s|m|h)')
    .option('--health-retries <int>', 'consecutive failures needed to report unhealthy')
    .option('--health-start-period <duration>', 'start period for the container to initialize (ms|s|m|h)')
    .option('--health-start-interval <duration>', 'time between running the check during the start period')
    .option('--no-healthcheck', 'disable any container-specified HEALTHCHECK')
    .option('--rm', 'automatically remove the container and its associated anonymous volumes when it exits')
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--runtime <string>', 'runtime to use for this container (crun or runc)')
    .option('--cgroup-parent <string>', 'optional parent cgroup for the container')
    .option('--group-add <list>', 'add additional groups to join', collect, [])
    .option('--oom-score-adj <int>', "tune host's OOM preferences (-1000 to 1000)")
    .option('--sysctl <map>', 'sysctl options', collect, [])
    .option('--tmpfs <list>', 'mount a tmpfs directory', collect, [])
    .option('--cidfile <file>', 'write the container ID to the file')
    .option('--platform <string>', 'set platform if server is multi-platform capable')
    .option('--pull <string>', 'pull image before running (never: images are local)')
    .option('-q, --quiet', 'suppress the pull output');
}

function integer(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim()))
    throw new InvalidArgumentError(`invalid argument "${text}" for "${flag}" flag`);
  return Number(text);
}

function parseUlimitFlag(text: string): Ulimit {
  const match = /^([a-z_]+)=(-?\d+)(?::(-?\d+))?$/i.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`invalid argument "${text}" for "--ulimit" flag`);
  const soft = Number(match[2]);
  return {
    Name: match[1]!.toLowerCase(),
    Soft: soft,
    Hard: match[3] === undefined ? soft : Number(match[3]),
  };
}

/** Docker's `parse` of the create flags into Config and HostConfig. */
export async function buildCreateRequest(
  image: string,
  command: string[],
  flags: CreateFlags,
): Promise<CreateContainerRequest> {
  const env: string[] = [];
  for (const file of flags.envFile) env.push(...readKeyValueFile(file, true));
  for (const value of flags.env) {
    const entry = parseEnvValue(value);
    if (entry !== undefined) env.push(entry);
  }
  const labels: Record<string, string> = {};
  for (const entry of [...flags.labelFile.flatMap((file) => readKeyValueFile(file, false)), ...flags.label]) {
    const equals = entry.indexOf('=');
    labels[equals < 0 ? entry : entry.slice(0, equals)] = equals < 0 ? '' : entry.slice(equals + 1);
  }
  const config: ContainerConfig = {
    Image: image,
    Env: env,
    Labels: labels,
    Tty: flags.tty === true,
    OpenStdin: flags.interactive === true,
    StdinOnce: flags.interactive === true,
    AttachStdin: flags.interactive === true,
    AttachStdout: true,
    AttachStderr: true,
  };
  if (command.length > 0) config.Cmd = command;
  if (flags.entrypoint !== undefined) config.Entrypoint = [flags.entrypoint];
  if (flags.workdir !== undefined) {
    if (!flags.workdir.startsWith('/')) {
      throw new InvalidArgumentError(
        `the working directory '${flags.workdir}' is invalid, it needs to be an absolute path`,
      );
    }
    config.WorkingDir = flags.workdir;
  }
  if (flags.user !== undefined) config.User = flags.user;
  if (flags.hostname !== undefined) config.Hostname = flags.hostname;
  if (flags.domainname !== undefined) config.Domainname = flags.domainname;
  if (flags.stopSignal !== undefined) config.StopSignal = flags.stopSignal;
  if (flags.stopTimeout !== undefined) config.StopTimeout = integer(flags.stopTimeout, '--stop-timeout')!;
  // commander turns --no-healthcheck into healthcheck: false
  const noHealthcheck = (flags as unknown as { healthcheck?: boolean }).healthcheck === false;
  const healthFlags = [
    flags.healthCmd,
    flags.healthInterval,
    flags.healthTimeout,
    flags.healthRetries,
    flags.healthStartPeriod,
    flags.healthStartInterval,
  ].some((value) => value !== undefined);
  if (noHealthcheck) {
    if (healthFlags) throw new InvalidArgumentError('--no-healthcheck conflicts with --health-* options');
    config.Healthcheck = { Test: ['NONE'] };
  } else if (healthFlags) {
    config.Healthcheck = {};
    if (flags.healthCmd !== undefined) config.Healthcheck.Test = ['CMD-SHELL', flags.healthCmd];
    if (flags.healthInterval)
      config.Healthcheck.Interval = parseDurationFlag(flags.healthInterval, '--health-interval');
    if (flags.healthTimeout)
      config.Healthcheck.Timeout = parseDurationFlag(flags.healthTimeout, '--health-timeout');
    if (flags.healthStartPeriod) {
      config.Healthcheck.StartPeriod = parseDurationFlag(flags.healthStartPeriod, '--health-start-period');
    }
    if (flags.healthStartInterval) {
      config.Healthcheck.StartInterval = parseDurationFlag(
        flags.healthStartInterval,
        '--health-start-interval',
      );
    }
    if (flags.healthRetries !== undefined) {
      const retries = integer(flags.healthRetries, '--health-retries')!;
      if (retries < 0) throw new InvalidArgumentError('--health-retries cannot be negative');
      config.Healthcheck.Retries = retries;
    }
  }

  const hostConfig: HostConfig = defaultHostConfig();
  // `default`: the service's default network (bridge, as Docker's)
  hostConfig.NetworkMode = flags.network ?? flags.net ?? 'default';
  hostConfig.RestartPolicy = parseRestartPolicy(flags.restart ?? 'no');
  hostConfig.AutoRemove = flags.rm === true;
  if (flags.logDriver && !['k8s-file', 'json-file', 'local'].includes(flags.logDriver)) {
    throw new InvalidArgumentError(
      `Cannot use log driver ${flags.logDriver}: Wharf logs through conmon (k8s-file)`,
    );
  }
  const logConfig: Record<string, string> = {};
  for (const option of flags.logOpt) {
    const equals = option.indexOf('=');
    if (equals <= 0)
      throw new InvalidArgumentError(`invalid key value pair format in logging opts: ${option}`);
    const key = option.slice(0, equals);
    if (
      !['max-size', 'max-file', 'tag', 'labels', 'env', 'compress', 'mode', 'max-buffer-size'].includes(key)
    ) {
      throw new InvalidArgumentError(`unknown log opt '${key}' for k8s-file log driver`);
    }
    logConfig[key] = option.slice(equals + 1);
  }
  if (logConfig['max-size']) parseBytes(logConfig['max-size'], 'max-size');
  hostConfig.LogConfig = { Type: flags.logDriver ?? 'k8s-file', Config: logConfig };
  hostConfig.CapAdd = flags.capAdd.length ? flags.capAdd : null;
  hostConfig.CapDrop = flags.capDrop.length ? flags.capDrop : null;
  hostConfig.Privileged = flags.privileged === true;
  hostConfig.ReadonlyRootfs = flags.readOnly === true;
  hostConfig.SecurityOpt = flags.securityOpt.length
    ? flags.securityOpt.map((option) => {
        // Docker's CLI sends a seccomp profile's content, not its path.
        const match = /^seccomp[=:](.+)$/.exec(option);
        if (!match || ['unconfined', 'builtin', 'default'].includes(match[1]!)) return option;
        return `seccomp=${readSeccompProfile(match[1]!)}`;
      })
    : null;
  if (flags.init) hostConfig.Init = true;
  if (flags.shmSize !== undefined) hostConfig.ShmSize = parseBytes(flags.shmSize, 'shm-size');
  if (flags.runtime !== undefined) hostConfig.Runtime = flags.runtime;
  if (flags.cgroupParent !== undefined) hostConfig.CgroupParent = flags.cgroupParent;
  if (flags.groupAdd.length) hostConfig.GroupAdd = flags.groupAdd;
  if (flags.oomScoreAdj !== undefined)
    hostConfig.OomScoreAdj = integer(flags.oomScoreAdj, '--oom-score-adj')!;
  if (flags.sysctl.length) {
    hostConfig.Sysctls = {};
    for (const entry of flags.sysctl) {
      const equals = entry.indexOf('=');
      if (equals <= 0) throw new InvalidArgumentError(`invalid argument "${entry}" for "--sysctl" flag`);
      hostConfig.Sysctls[entry.slice(0, equals)] = entry.slice(equals + 1);
    }
  }
  if (flags.tmpfs.length) {
    hostConfig.Tmpfs = {};
    for (const entry of flags.tmpfs) {
      const colon = entry.indexOf(':');
      hostConfig.Tmpfs[colon < 0 ? entry : entry.slice(0, colon)] = colon < 0 ? '' : entry.slice(colon + 1);
    }
  }
  if (flags.memory !== undefined) hostConfig.Memory = parseBytes(flags.memory, 'memory');
  if (flags.memorySwap !== undefined) hostConfig.MemorySwap = parseSwap(flags.memorySwap);
  if (flags.memoryReservation !== undefined) {
    hostConfig.MemoryReservation = parseBytes(flags.memoryReservation, 'memory-reservation');
  }
  if (flags.cpus !== undefined) {
    const cpus = Number(flags.cpus);
    if (!Number.isFinite(cpus) || cpus < 0)
      throw new InvalidArgumentError(`invalid argument "${flags.cpus}" for "--cpus" flag`);
    hostConfig.NanoCpus = Math.round(cpus * 1e9);
  }
  if (flags.cpuShares !== undefined) hostConfig.CpuShares = integer(flags.cpuShares, '--cpu-shares')!;
  if (flags.cpuPeriod !== undefined) hostConfig.CpuPeriod = integer(flags.cpuPeriod, '--cpu-period')!;
  if (flags.cpuQuota !== undefined) hostConfig.CpuQuota = integer(flags.cpuQuota, '--cpu-quota')!;
  if (hostConfig.NanoCpus > 0 && (hostConfig.CpuPeriod > 0 || hostConfig.CpuQuota > 0)) {
    throw new InvalidArgumentError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (flags.cpusetCpus !== undefined) hostConfig.CpusetCpus = flags.cpusetCpus;
  if (flags.pidsLimit !== undefined) hostConfig.PidsLimit = integer(flags.pidsLimit, '--pids-limit')!;
  hostConfig.Ulimits = flags.ulimit.length ? flags.ulimit.map(parseUlimitFlag) : null;
  hostConfig.Devices = flags.device.length ? flags.device.map(deviceMapping) : null;
  const networking = networkFlagFields(flags, config, hostConfig);
  volumeFlags(flags, config, hostConfig);
  const request: CreateContainerRequest = { config, hostConfig };
  if (networking) request.networkingConfig = networking;
  if (flags.name !== undefined) request.name = flags.name;
  return request;
}

/**
 * `-p`, `-P`, `--expose`, `--dns*`, `--add-host` into Config and HostConfig; `--network-alias`
 * and `--ip` into the endpoint settings of the container's network (docker/cli's parse).
 */
function networkFlagFields(
  flags: CreateFlags,
  config: ContainerConfig,
  hostConfig: HostConfig,
): CreateContainerRequest['networkingConfig'] | undefined {
  const exposed: Record<string, Record<string, never>> = { ...(config.ExposedPorts ?? {}) };
  for (const entry of flags.expose) {
    const { port, protocol } = splitProtoPort(entry.trim());
    const [start, end] = parsePortRange(port, entry);
    if (start === 0) throw new InvalidArgumentError(`invalid range format for --expose: ${entry}`);
    for (let value = start; value <= end; value++) exposed[`${value}/${protocol}`] = {};
  }
  const { exposedPorts, portBindings } = parsePortSpecs(flags.publish);
  Object.assign(exposed, exposedPorts);
  if (Object.keys(exposed).length > 0) config.ExposedPorts = exposed;
  if (Object.keys(portBindings).length > 0) hostConfig.PortBindings = portBindings;
  if (flags.publishAll) hostConfig.PublishAllPorts = true;
  for (const server of flags.dns) {
    // docker/cli's ValidateIPAddress
    if (isIP(server.trim()) === 0) {
      throw new InvalidArgumentError(
        `invalid argument "${server}" for "--dns" flag: IP address is not correctly formatted: ${server}`,
      );
    }
  }
  if (flags.dns.length) hostConfig.Dns = flags.dns.map((server) => server.trim());
  if (flags.dnsSearch.length) hostConfig.DnsSearch = flags.dnsSearch;
  const dnsOptions = [...flags.dnsOption, ...(flags.dnsOpt ?? [])];
  if (dnsOptions.length) hostConfig.DnsOptions = dnsOptions;
  if (flags.addHost.length) {
    for (const entry of flags.addHost) {
      // docker/cli's ValidateExtraHost: NAME:IP (or NAME=IP), the IP may be host-gateway
      if (!/^[^:=\s]+[:=]\S+$/.test(entry))
        throw new InvalidArgumentError(
          `invalid argument "${entry}" for "--add-host" flag: bad format for add-host: "${entry}"`,
        );
    }
    hostConfig.ExtraHosts = flags.addHost.map((entry) => entry.replace('=', ':'));
  }
  const aliases = [...flags.networkAlias, ...(flags.netAlias ?? [])];
  if (aliases.length === 0 && flags.ip === undefined) return undefined;
  const network = hostConfig.NetworkMode;
  if (network === 'none' || network === 'host' || network.startsWith('container:')) {
    throw new InvalidArgumentError(
      `Cannot use --network-alias or --ip with --network ${network}: they need a bridge network`,
    );
  }
  const endpoint: { Aliases?: string[]; IPAMConfig?: { IPv4Address: string } } = {};
  if (aliases.length) endpoint.Aliases = aliases;
  if (flags.ip !== undefined) endpoint.IPAMConfig = { IPv4Address: flags.ip };
  return { EndpointsConfig: { [network]: endpoint } };
}

/** `-v`, `--mount`, `--volumes-from`, `--volume-driver` (docker/cli's checks; the service checks again). */
function volumeFlags(flags: CreateFlags, config: ContainerConfig, hostConfig: HostConfig): void {
  const fields = volumeFlagFields({
    volume: flags.volume,
    mount: flags.mount,
    volumesFrom: flags.volumesFrom,
  });
  if (fields.binds.length) hostConfig.Binds = fields.binds;
  if (fields.mounts.length) hostConfig.Mounts = fields.mounts;
  if (fields.volumesFrom.length) hostConfig.VolumesFrom = fields.volumesFrom;
  if (Object.keys(fields.volumes).length) config.Volumes = { ...(config.Volumes ?? {}), ...fields.volumes };
  if (flags.volumeDriver) hostConfig.VolumeDriver = flags.volumeDriver;
}

function readSeccompProfile(path: string): string {
  try {
    return JSON.stringify(JSON.parse(readFileSync(path, 'utf8')));
  } catch (error) {
    throw new InvalidArgumentError(`opening seccomp profile (${path}) failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** `run`'s own errors: 125, or 126/127 for a command that cannot be started (Docker's codes). */
function runError(error: unknown): unknown {
  if (error instanceof CliExit) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ContainerStartError) return new CliExit(error.exitCode, `Error: ${message}`);
  if (error instanceof WharfError) return new CliExit(125, `Error: ${message}`);
  return error;
}

function runLike(command: Command): Command {
  return command
    .argument('<image>', 'IMAGE')
    .argument('[command...]', 'COMMAND [ARG...]')
    .passThroughOptions();
}

function addCreate(parent: Command, context: CliContext): void {
  addCreateFlags(runLike(parent.command('create').description('Create a new container'))).action(
    async (image: string, command: string[], flags: CreateFlags) => {
      try {
        const request = await buildCreateRequest(image, command, flags);
        const cid = await CidFile.open(flags.cidfile);
        try {
          await withContainers(context, async (service) => {
            const { id } = await service.create(request);
            await cid.write(id);
            context.stdout.write(`${id}\n`);
          });
        } finally {
          await cid.close();
        }
      } catch (error) {
        throw runError(error);
      }
    },
  );
}

function addRun(parent: Command, context: CliContext): void {
  addCreateFlags(runLike(parent.command('run').description('Create and run a new container from an image')))
    .option('-d, --detach', 'run container in background and print container ID')
    .option('--sig-proxy <bool>', 'proxy received signals to the process', 'true')
    .action(
      async (
        image: string,
        command: string[],
        flags: CreateFlags & { detach?: boolean; sigProxy: string },
      ) => {
        try {
          if (flags.detach && flags.rm && flags.restart && flags.restart !== 'no') {
            throw new InvalidArgumentError('Conflicting options: --restart and --rm');
          }
          const request = await buildCreateRequest(image, command, flags);
          const cid = await CidFile.open(flags.cidfile);
          try {
            await withContainers(context, async (service) => {
              const { id } = await service.create(request);
              await cid.write(id);
              await cid.close();
              if (flags.detach) {
                await service.start(id).catch(async (error: unknown) => {
                  if (flags.rm) await service.remove(id, { force: true }).catch(() => undefined);
                  throw error;
                });
                context.stdout.write(`${id}\n`);
                return;
              }
              process.exitCode = await runAttached(service, id, flags);
            });
          } finally {
            await cid.close();
          }
        } catch (error) {
          throw runError(error);
        }
      },
    );
}

/** The foreground part of `run`: start, stream, wait, handle the exit; returns the exit code. */
async function runAttached(
  service: import('../../container/container-service.ts').ContainerService,
  id: string,
  flags: CreateFlags & { sigProxy: string },
): Promise<number> {
  const tty = flags.tty === true;
  const policy = (flags.restart ?? 'no').split(':')[0];
  // With no restart policy this process handles the exit; conmon's exit command waits a second
  // and then finds nothing left to do.
  const handlesExit = policy === 'no' || policy === '';
  const since = BigInt(Date.now() - 1) * 1_000_000n;
  const consoleSize =
    tty && process.stdout.isTTY && process.stdout.rows && process.stdout.columns
      ? { height: process.stdout.rows, width: process.stdout.columns }
      : undefined;
  let record: import('../../container/container-records.ts').ContainerRecord;
  try {
    record = await service.start(id, {
      ...(handlesExit ? { exitDelaySeconds: 1 } : {}),
      ...(consoleSize ? { consoleSize } : {}),
    });
  } catch (error) {
    if (flags.rm) await service.remove(id, { force: true }).catch(() => undefined);
    throw error;
  }
  const session = await attachedSession(service, record, {
    interactive: flags.interactive === true,
    tty,
    ...(flags.detachKeys ? { detachKeys: flags.detachKeys } : {}),
    sigProxy: flags.sigProxy !== 'false',
    since,
  });
  if (session.detached) return 0;
  if (handlesExit) await service.cleanup(id, record.generation);
  return session.exitCode;
}

/** Adds `create` and `run` under a parent (the program, or the `container` group). */
export function registerRunCommands(parent: Command, context: CliContext): void {
  addCreate(parent, context);
  addRun(parent, context);
}

export function register(program: Command, context: CliContext): void {
  registerRunCommands(program, context);
}
