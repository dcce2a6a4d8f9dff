/**
 * `wharf registry serve [--addr HOST:PORT] [--storage DIR] [--config FILE]`: runs the OCI
 * distribution registry in the foreground until SIGINT or SIGTERM. Defaults: 127.0.0.1:5000 and
 * `<root>/registry`. With no users configured it is open to anonymous push and pull, and says so.
 * Request logs go to stdout as pino JSON lines; start-up and shutdown notes go to stderr.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

interface ServeOptions {
  addr?: string;
  storage?: string;
  config?: string;
}

export function register(program: Command, context: CliContext): void {
  const registry = program.command('registry').description('Run an OCI distribution registry');
  registry
    .command('serve')
    .description('Serve the registry (OCI distribution spec 1.1, Docker registry v2) in the foreground')
    .option('--addr <host:port>', 'address to listen on (default 127.0.0.1:5000)')
    .option('--storage <dir>', 'directory for blobs and metadata (default <root>/registry)')
    .option('--config <file>', 'JSON configuration file (flags override it)')
    .action((options: ServeOptions) => serve(options, context));
}

async function serve(options: ServeOptions, context: CliContext): Promise<void> {
  const [
    { parseAddress, parseRegistryConfig, DEFAULT_REGISTRY_ADDR, DEFAULT_UPLOAD_MAX_AGE_HOURS },
    { RegistryServer },
    { pino },
  ] = await Promise.all([
    import('../../registry/config.ts'),
    import('../../registry/registry-server.ts'),
    import('pino'),
  ]);
  const config = options.config
    ? parseRegistryConfig(await readFile(options.config, 'utf8'), options.config)
    : {};
  const { host, port } = parseAddress(options.addr ?? config.addr ?? DEFAULT_REGISTRY_ADDR);
  const storage = resolve(options.storage ?? config.storage ?? join(context.root(), 'registry'));
  // Asynchronous, buffered log writes: logging must not cost the request path a syscall each.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino({ level: config.log?.level ?? 'info', base: null }, destination);

  const server = await RegistryServer.start({
    storage,
    host,
    port,
    logger,
    uploadMaxAgeMs: (config.uploads?.maxAgeHours ?? DEFAULT_UPLOAD_MAX_AGE_HOURS) * 3600 * 1000,
  });
  // Signal handlers before the banner: whoever waits for "listening" may stop us right away.
  const stopped = new Promise<void>((resolveStop) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      context.stderr.write(`Received ${signal}, shutting down\n`);
      server
        .close()
        .catch((error: unknown) => {
          context.stderr.write(`Error: ${(error as Error).message}\n`);
          process.exitCode = 1;
        })
        .finally(() => {
          try {
            destination.flushSync();
          } catch {
            // the log destination was not open yet: nothing buffered to lose
          }
          resolveStop();
        });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const { resumable, removed } = server.recovery;
  context.stderr.write(`Wharf registry listening on ${server.url} (storage ${storage})\n`);
  context.stderr.write(
    'Warning: the registry is open to anonymous push and pull (no users are configured)\n',
  );
  if (resumable > 0 || removed > 0) {
    context.stderr.write(
      `Recovered upload sessions: ${resumable} resumable, ${removed} abandoned or incomplete removed\n`,
    );
  }
  logger.info({ url: server.url, storage, recovery: server.recovery }, 'registry started');

  await stopped;
}
