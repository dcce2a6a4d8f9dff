/**
 * `wharf system service`: opens the engine on the store root, serves the Engine API on every
 * configured address, and shuts down cleanly on SIGTERM or SIGINT (requests in flight aborted
 * and given a grace period, sockets and pid file removed, the database closed). A second signal
 * during shutdown exits at once. No state lives only in this process: it can be killed and
 * restarted at any time, and a socket or pid file left by a `kill -9` is taken over.
 *
 * @example
 * const daemon = await startDaemon(config);
 * console.log(daemon.addresses); // ['unix:///run/wharf/wharf.sock']
 * await daemon.stop();
 */
import pino from 'pino';
import { openLocalEngine } from '../engine/local-engine.ts';
import { EngineApiServer } from '../engine-api/engine-api-server.ts';
import { type DaemonConfig, formatAddress } from './daemon-config.ts';
import { localBackends } from './local-backends.ts';
import { acquirePidFile, type PidFile } from './pid-file.ts';
import { prepareSocketPath, removeSocket, secureSocket } from './unix-socket.ts';

export interface RunningDaemon {
  /** Where it listens (`unix:///…`, `tcp://127.0.0.1:PORT` with the bound port). */
  addresses: string[];
  routes: string[];
  stop(): Promise<void>;
}

export async function startDaemon(config: DaemonConfig): Promise<RunningDaemon> {
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } }, pino.destination(2));
  const cleanups: Array<() => Promise<void> | void> = [];
  const runCleanups = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn({ err: error }, 'cleanup failed');
      }
    }
    cleanups.length = 0;
  };
  try {
    const pidFile: PidFile = await acquirePidFile(config.pidFile);
    cleanups.push(() => pidFile.release());
    // refuse a socket another daemon answers on before touching the store
    for (const host of config.hosts) if (host.kind === 'unix') await prepareSocketPath(host.path);
    const engine = await openLocalEngine({ root: config.root });
    cleanups.push(() => engine.close());
    const backends = localBackends(engine, { version: config.version, debug: config.logLevel === 'debug' });
    cleanups.push(() => backends.close());
    const server = new EngineApiServer({
      backends,
      version: config.version,
      logger,
    });
    cleanups.push(() => server.close({ graceMs: config.shutdownGraceMs }));
    const addresses: string[] = [];
    for (const host of config.hosts) {
      if (host.kind === 'unix') {
        await server.listen({ path: host.path });
        cleanups.push(() => removeSocket(host.path));
        await secureSocket(host.path, config.socketGroup);
        addresses.push(formatAddress(host));
      } else {
        const bound = await server.listen({ host: host.host, port: host.port });
        const port = typeof bound === 'string' ? host.port : bound.port;
        addresses.push(formatAddress({ ...host, port }));
      }
    }
    logger.info({ addresses, root: config.root, version: config.version }, 'API listening');
    let stopping: Promise<void> | undefined;
    return {
      addresses,
      routes: server.routes,
      stop: () => {
        stopping ??= runCleanups().then(() => logger.info({}, 'daemon stopped'));
        return stopping;
      },
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}

/**
 * Runs the daemon until SIGTERM or SIGINT; resolves after a clean shutdown. `onReady` gets the
 * addresses once every listener is up (the CLI prints them).
 */
export async function runDaemon(
  config: DaemonConfig,
  onReady?: (daemon: RunningDaemon) => void,
): Promise<void> {
  const daemon = await startDaemon(config);
  onReady?.(daemon);
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`Received ${signal} again: exiting without waiting\n`);
        process.exit(130);
      }
      daemon.stop().then(resolve, (error: unknown) => {
        process.stderr.write(`Error: ${(error as Error).message}\n`);
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
