/**
 * `wharf info` (and `wharf system info`): what Wharf knows of itself and its host, as `docker info`
 * prints it: the same facts the daemon's `GET /info` serves (one description, src/daemon), read
 * in-process from the root. The runtime line is the probe's choice, and when crun is not it the
 * probe's reason is a warning at the end (the way to make crun usable is in it).
 *
 * @example
 * wharf info --format '{{.DefaultRuntime}}'   # crun
 */
import type { Command } from 'commander';
import type { SystemDescription } from '../../engine-api/routes/system-routes.ts';
import type { CliContext } from '../context.ts';
import { executeFormat, parseFormat, templateText } from '../format/formatter.ts';
import { bytesSize } from '../format/units.ts';
import { API_VERSION, VERSION } from '../version.ts';
import { withContainers } from './container-common.ts';

export function register(program: Command, context: CliContext): void {
  program
    .command('info')
    .description('Display system-wide information')
    .option('-f, --format <format>', 'Format output using a custom template: json, or a Go template')
    .action((options: { format?: string }) => showInfo(context, options));
}

/** Adds `info` to a `system` group (Docker's `docker system info`). */
export function registerSystemInfo(system: Command, context: CliContext): void {
  register(system, context);
}

async function showInfo(context: CliContext, options: { format?: string }): Promise<void> {
  // A bad template fails before anything is gathered.
  const template = options.format ? parseFormat(templateText(options.format)) : undefined;
  const [{ HostSystemBackend }, { infoShape }] = await Promise.all([
    import('../../daemon/system-description.ts'),
    import('../../engine-api/routes/system-routes.ts'),
  ]);
  const description = await withContainers(context, async (service, engine) => {
    const system = new HostSystemBackend({
      root: engine.root,
      version: VERSION,
      countImages: async () => (await engine.images.list({ all: true })).length,
      containerCounts: async () => {
        const all = await service.list({ all: true });
        const running = all.filter((c) => c.State === 'running').length;
        const paused = all.filter((c) => c.State === 'paused').length;
        return { total: all.length, running, paused, stopped: all.length - running - paused };
      },
      runtimeSelection: async () => {
        const selection = await service.context.selection();
        return {
          name: selection.driver.name,
          ...(selection.fallbackReason ? { fallbackReason: selection.fallbackReason } : {}),
        };
      },
    });
    return system.describe();
  });
  if (template) {
    const data = { ...infoShape(description), ClientInfo: clientInfo() };
    context.stdout.write(`${executeFormat(template, data)}\n`);
    return;
  }
  context.stdout.write(renderInfo(description));
}

function clientInfo() {
  return { Debug: false, Version: VERSION, ApiVersion: API_VERSION, Context: 'default', Plugins: [] };
}

/** Docker's `docker info` text layout (client, then server), for the facts Wharf has. */
function renderInfo(system: SystemDescription): string {
  const lines = [
    'Client:',
    ` Version:    ${VERSION}`,
    ' Context:    default',
    ' Debug Mode: false',
    '',
    'Server:',
    ` Containers: ${system.containers.total}`,
    `  Running: ${system.containers.running}`,
    `  Paused: ${system.containers.paused}`,
    `  Stopped: ${system.containers.stopped}`,
    ` Images: ${system.images}`,
    ` Server Version: ${system.version}`,
    ` Storage Driver: ${system.storageDriver}`,
    ...system.driverStatus.map(([key, value]) => `  ${key}: ${value}`),
    ` Logging Driver: ${system.loggingDriver}`,
    ` Cgroup Driver: ${system.cgroupDriver}`,
    ` Cgroup Version: ${system.cgroupVersion}`,
    ' Plugins:',
    '  Volume: local',
    '  Network: bridge host none',
    '  Log: k8s-file',
    ` Runtimes: ${Object.keys(system.runtimes).sort().join(' ')}`,
    ` Default Runtime: ${system.defaultRuntime}`,
    ` Init Binary: ${system.initBinary}`,
    ' Security Options:',
    ...system.securityOptions.flatMap(securityOptionLines),
    ` Kernel Version: ${system.kernelVersion}`,
    ` Operating System: ${system.operatingSystem}`,
    ' OSType: linux',
    ` Architecture: ${system.machine}`,
    ` CPUs: ${system.ncpu}`,
    ` Total Memory: ${bytesSize(system.memTotal)}`,
    ` Name: ${system.name}`,
    ` ID: ${system.id}`,
    ` Docker Root Dir: ${system.root}`,
    ` Debug Mode: ${system.debug}`,
    ` Experimental: ${system.experimental}`,
    ' Insecure Registries:',
    ...['127.0.0.0/8', '::1/128', ...system.insecureRegistries].map((registry) => `  ${registry}`),
    ' Live Restore Enabled: true',
    '',
    ...system.warnings,
  ];
  return `${lines.join('\n')}\n`;
}

/** `name=seccomp,profile=builtin` -> `  seccomp` and `   Profile: builtin`, as Docker prints it. */
function securityOptionLines(option: string): string[] {
  return option.split(',').map((part) => {
    const [key = '', value = ''] = part.split('=');
    if (key === 'name') return `  ${value}`;
    return `   ${key.charAt(0).toUpperCase()}${key.slice(1)}: ${value}`;
  });
}
