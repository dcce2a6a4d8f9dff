/**
 * `wharf system service [-H unix:///run/wharf/wharf.sock] [-H tcp://127.0.0.1:2375] [URI]`:
 * serves the Docker Engine API from this store, so `DOCKER_HOST=unix:///run/wharf/wharf.sock
 * docker ...` and every Engine API library work unchanged. Runs in the foreground until SIGTERM
 * or SIGINT. The daemon module is imported only when the verb runs.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { VERSION } from '../version.ts';

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function registerSystemService(system: Command, context: CliContext): void {
  system
    .command('service')
    .description('Serve the Docker Engine API (foreground, until SIGTERM or SIGINT)')
    .argument('[uri]', 'where to listen, as -H (Podman spelling)')
    .option(
      '-H, --host <uri>',
      'listen on unix:///PATH or tcp://127.0.0.1:PORT (repeatable; default unix:///run/wharf/wharf.sock)',
      collect,
    )
    .option('-p, --pidfile <path>', 'pid file (default: wharf.pid beside the first unix socket)')
    .option('-G, --group <name>', 'group owning the unix sockets (mode 0660)')
    .option('-l, --log-level <level>', 'log level: debug, info, warn, error, fatal', 'info')
    .option('--shutdown-timeout <seconds>', 'grace period for requests in flight on shutdown', '5')
    .action(
      async (
        uri: string | undefined,
        options: {
          host: string[];
          pidfile?: string;
          group?: string;
          logLevel: string;
          shutdownTimeout: string;
        },
      ) => {
        const { DEFAULT_HOST, defaultPidFile, parseHost } = await import('../../daemon/daemon-config.ts');
        const { runDaemon } = await import('../../daemon/daemon.ts');
        const { InvalidArgumentError } = await import('../../errors/index.ts');
        const hostValues = [...(options.host ?? []), ...(uri ? [uri] : [])];
        const hosts = (hostValues.length > 0 ? hostValues : [DEFAULT_HOST]).map(parseHost);
        if (!LOG_LEVELS.has(options.logLevel)) {
          throw new InvalidArgumentError(
            `Cannot start the daemon: invalid --log-level "${options.logLevel}" (${[...LOG_LEVELS].join(', ')})`,
          );
        }
        const graceSeconds = Number(options.shutdownTimeout);
        if (!Number.isFinite(graceSeconds) || graceSeconds < 0) {
          throw new InvalidArgumentError(
            `Cannot start the daemon: invalid --shutdown-timeout "${options.shutdownTimeout}"`,
          );
        }
        const root = context.root();
        await runDaemon(
          {
            root,
            hosts,
            pidFile: options.pidfile ?? defaultPidFile(hosts, root),
            ...(options.group !== undefined ? { socketGroup: options.group } : {}),
            logLevel: context.debug() ? 'debug' : options.logLevel,
            version: VERSION,
            shutdownGraceMs: graceSeconds * 1000,
          },
          (daemon) => {
            context.stderr.write(`Wharf ${VERSION}: Docker Engine API on ${daemon.addresses.join(', ')}\n`);
          },
        );
      },
    );
}
