/**
 * `wharf registry`: the OCI distribution registry and its administration.
 *
 * - `serve [--addr HOST:PORT] [--storage DIR] [--config FILE] [--htpasswd FILE] [--gc-interval D]
 *   [--gc-grace D] [--gc-delete-untagged] [--no-ui] [--scan-db DIR] [--scan-on-push]` runs the registry in the foreground until SIGINT or
 *   SIGTERM. Defaults: 127.0.0.1:5000 and `<root>/registry`. With no account it is open to
 *   anonymous push and pull, and says so. Request logs go to stdout as pino JSON lines; start-up and
 *   shutdown notes go to stderr.
 * - `user add|ls|rm|passwd`, `project create|ls|rm|update|member add|rm|ls`, `robot create|ls|rm`
 *   change the accounts of a storage directory directly, safe while a server runs on it (the
 *   server reads them at each request).
 * - `gc [--storage DIR] [--grace D] [--dry-run] [--delete-untagged] [--full]` collects garbage,
 *   safe while a server runs on the same storage.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors/index.ts';
import type { AccountService } from '../../registry/auth/account-service.ts';
import type { GcReport } from '../../registry/gc/garbage-collector.ts';
import type { CliContext } from '../context.ts';
import { alignColumns } from '../format/tab-writer.ts';

interface ServeOptions {
  addr?: string;
  storage?: string;
  config?: string;
  htpasswd?: string;
  gcInterval?: string;
  gcGrace?: string;
  gcDeleteUntagged?: boolean;
  /** commander's `--no-ui`: false when given. */
  ui?: boolean;
  scanDb?: string;
  scanOnPush?: boolean;
}

interface StorageOption {
  storage?: string;
}

export function register(program: Command, context: CliContext): void {
  const registry = program.command('registry').description('Run and administer an OCI distribution registry');
  registry
    .command('serve')
    .description('Serve the registry (OCI distribution spec 1.1, Docker registry v2) in the foreground')
    .option('--addr <host:port>', 'address to listen on (default 127.0.0.1:5000)')
    .option('--storage <dir>', 'directory for blobs and metadata (default <root>/registry)')
    .option('--config <file>', 'JSON configuration file (flags override it)')
    .option('--htpasswd <file>', 'users from an htpasswd file (bcrypt, htpasswd -B)')
    .option('--gc-interval <duration>', 'collect garbage every DURATION (e.g. 24h; default: only on demand)')
    .option('--gc-grace <duration>', 'grace of scheduled collections (default 1h)')
    .option('--gc-delete-untagged', 'scheduled collections also delete untagged manifests')
    .option('--no-ui', 'serve no web UI (by default a read-only one under /ui/)')
    .option('--scan-db <dir>', 'scan images for vulnerabilities against the OSV database in DIR')
    .option('--scan-on-push', 'scan every pushed image (needs a scan database)')
    .action((options: ServeOptions) => serve(options, context));

  const storageOption = (command: Command) =>
    command.option('--storage <dir>', 'the registry storage directory (default <root>/registry)');

  const user = registry.command('user').description('Manage the registry users');
  storageOption(user.command('add').description('Add a user').argument('<name>'))
    .option('-p, --password <password>', 'the password')
    .option('--password-stdin', 'read the password from stdin')
    .option('--admin', 'make the user a registry administrator')
    .action(
      async (
        name: string,
        options: StorageOption & { password?: string; passwordStdin?: boolean; admin?: boolean },
      ) =>
        withAccounts(options, context, async (accounts) => {
          await accounts.addUser(name, await passwordOf(options), { admin: options.admin ?? false });
          context.stdout.write(`${name}\n`);
        }),
    );
  storageOption(user.command('ls').alias('list').description('List users'))
    .option('--format <format>', 'json for JSON')
    .action(async (options: StorageOption & { format?: string }) =>
      withAccounts(options, context, async (accounts) => {
        const users = await accounts.listUsers();
        if (options.format === 'json') return writeJson(context, users);
        writeTable(
          context,
          ['NAME', 'ADMIN', 'CREATED'],
          users.map((u) => [u.name, String(u.admin), u.createdAt]),
        );
      }),
    );
  storageOption(user.command('rm').alias('remove').description('Remove a user').argument('<name>')).action(
    async (name: string, options: StorageOption) =>
      withAccounts(options, context, async (accounts) => {
        await accounts.removeUser(name);
        context.stdout.write(`${name}\n`);
      }),
  );
  storageOption(user.command('passwd').description("Change a user's password").argument('<name>'))
    .option('-p, --password <password>', 'the new password')
    .option('--password-stdin', 'read the new password from stdin')
    .action(async (name: string, options: StorageOption & { password?: string; passwordStdin?: boolean }) =>
      withAccounts(options, context, async (accounts) => {
        await accounts.setPassword(name, await passwordOf(options));
      }),
    );

  const project = registry
    .command('project')
    .description('Manage projects (the first path component of repositories)');
  storageOption(project.command('create').description('Create a project').argument('<name>'))
    .option('--public', 'anyone may pull from it, anonymous users included')
    .action(async (name: string, options: StorageOption & { public?: boolean }) =>
      withAccounts(options, context, async (accounts) => {
        await accounts.createProject(name, { public: options.public ?? false });
        context.stdout.write(`${name}\n`);
      }),
    );
  storageOption(project.command('ls').alias('list').description('List projects'))
    .option('--format <format>', 'json for JSON')
    .action(async (options: StorageOption & { format?: string }) =>
      withAccounts(options, context, async (accounts) => {
        const projects = await accounts.listProjects();
        if (options.format === 'json') return writeJson(context, projects);
        writeTable(
          context,
          ['NAME', 'ACCESS', 'CREATED'],
          projects.map((p) => [p.name, p.public ? 'public' : 'private', p.createdAt]),
        );
      }),
    );
  storageOption(
    project.command('rm').alias('remove').description('Remove an empty project').argument('<name>'),
  ).action(async (name: string, options: StorageOption) =>
    withAccounts(options, context, async (accounts) => {
      await accounts.removeProject(name);
      context.stdout.write(`${name}\n`);
    }),
  );
  storageOption(project.command('update').description('Make a project public or private').argument('<name>'))
    .option('--public', 'anyone may pull')
    .option('--private', 'members only')
    .action(async (name: string, options: StorageOption & { public?: boolean; private?: boolean }) =>
      withAccounts(options, context, async (accounts) => {
        if (options.public === options.private) throw usage('give exactly one of --public and --private');
        await accounts.setProjectPublic(name, options.public === true);
      }),
    );
  const member = project.command('member').description('Manage the members of a project');
  storageOption(
    member
      .command('add')
      .description('Add a member (or change its role)')
      .argument('<project>')
      .argument('<user>'),
  )
    .option('--role <role>', 'admin, maintainer, developer (push and pull) or guest (pull)', 'developer')
    .action(async (projectName: string, userName: string, options: StorageOption & { role: string }) =>
      withAccounts(options, context, async (accounts) => {
        await accounts.setMember(projectName, userName, options.role);
      }),
    );
  storageOption(
    member
      .command('rm')
      .alias('remove')
      .description('Remove a member')
      .argument('<project>')
      .argument('<user>'),
  ).action(async (projectName: string, userName: string, options: StorageOption) =>
    withAccounts(options, context, async (accounts) => {
      await accounts.removeMember(projectName, userName);
    }),
  );
  storageOption(
    member.command('ls').alias('list').description('List the members of a project').argument('<project>'),
  )
    .option('--format <format>', 'json for JSON')
    .action(async (projectName: string, options: StorageOption & { format?: string }) =>
      withAccounts(options, context, async (accounts) => {
        const members = await accounts.listMembers(projectName);
        if (options.format === 'json') return writeJson(context, members);
        writeTable(
          context,
          ['USER', 'ROLE'],
          members.map((m) => [m.user, m.role]),
        );
      }),
    );

  const robot = registry.command('robot').description('Manage robot accounts (robot$NAME, for CI)');
  storageOption(
    robot
      .command('create')
      .description('Create a robot account and print its secret (shown once)')
      .argument('<name>'),
  )
    .option(
      '--project <project[:actions]>',
      'a project it may use, with actions (pull,push,delete; default pull,push); repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--description <text>', 'what it is for')
    .option('--expires <duration>', 'expire after DURATION (e.g. 90d)')
    .option('--format <format>', 'json for JSON')
    .action(
      async (
        name: string,
        options: StorageOption & {
          project?: string[];
          description?: string;
          expires?: string;
          format?: string;
        },
      ) =>
        withAccounts(options, context, async (accounts) => {
          const { parseDuration } = await import('../../registry/duration.ts');
          const permissions = (options.project ?? []).map((entry) => {
            const colon = entry.indexOf(':');
            const projectName = colon < 0 ? entry : entry.slice(0, colon);
            const actions = colon < 0 ? ['pull', 'push'] : entry.slice(colon + 1).split(',');
            return { project: projectName, actions: actions as Array<'pull' | 'push' | 'delete'> };
          });
          const robotOptions: { description?: string; expiresInMs?: number } = {};
          if (options.description !== undefined) robotOptions.description = options.description;
          if (options.expires !== undefined) robotOptions.expiresInMs = parseDuration(options.expires);
          const created = await accounts.createRobot(name, permissions, robotOptions);
          if (options.format === 'json') return writeJson(context, created);
          context.stdout.write(`Name:   ${created.name}\nSecret: ${created.secret}\n`);
        }),
    );
  storageOption(robot.command('ls').alias('list').description('List robot accounts'))
    .option('--format <format>', 'json for JSON')
    .action(async (options: StorageOption & { format?: string }) =>
      withAccounts(options, context, async (accounts) => {
        const robots = await accounts.listRobots();
        if (options.format === 'json') return writeJson(context, robots);
        writeTable(
          context,
          ['NAME', 'PERMISSIONS', 'EXPIRES', 'DESCRIPTION'],
          robots.map((r) => [
            r.name,
            r.permissions.map((p) => `${p.project}:${p.actions.join(',')}`).join(' '),
            r.expiresAt ?? 'never',
            r.description ?? '',
          ]),
        );
      }),
    );
  storageOption(
    robot.command('rm').alias('remove').description('Remove a robot account').argument('<name>'),
  ).action(async (name: string, options: StorageOption) =>
    withAccounts(options, context, async (accounts) => {
      await accounts.removeRobot(name);
      context.stdout.write(`${name}\n`);
    }),
  );

  storageOption(
    registry.command('gc').description('Collect garbage (safe while a server uses the same storage)'),
  )
    .option('--grace <duration>', 'keep unreferenced content younger than this', '1h')
    .option('--dry-run', 'report what would be deleted, delete nothing')
    .option('--delete-untagged', 'also delete untagged manifests that no index lists')
    .option('--full', 'first queue every candidate, walking all blob files (storage from before the queue)')
    .option('--format <format>', 'json for the report as JSON')
    .action(
      (
        options: StorageOption & {
          grace: string;
          dryRun?: boolean;
          deleteUntagged?: boolean;
          full?: boolean;
          format?: string;
        },
      ) => collectGarbage(options, context),
    );
}

function storageOf(options: StorageOption, context: CliContext): string {
  return resolve(options.storage ?? join(context.root(), 'registry'));
}

function usage(message: string): Error {
  return new InvalidArgumentError(message);
}

async function passwordOf(options: { password?: string; passwordStdin?: boolean }): Promise<string> {
  if (options.password !== undefined && options.passwordStdin)
    throw usage('--password and --password-stdin are exclusive');
  if (options.password !== undefined) return options.password;
  if (!options.passwordStdin) throw usage('give the password with --password-stdin (or --password)');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (password === '') throw usage('the password read from stdin is empty');
  return password;
}

/** Opens the storage's access and content metadata (both safe beside a running server). */
async function withAccounts(
  options: StorageOption,
  context: CliContext,
  fn: (accounts: AccountService) => Promise<void>,
): Promise<void> {
  const storage = storageOf(options, context);
  await mkdir(storage, { recursive: true });
  const [{ SqliteAccessStore }, { SqliteMetadataStore }, { AccountService }] = await Promise.all([
    import('../../registry/auth/sqlite-access-store.ts'),
    import('../../registry/metadata/sqlite-metadata-store.ts'),
    import('../../registry/auth/account-service.ts'),
  ]);
  const store = SqliteAccessStore.open(join(storage, 'access.db'));
  const metadata = SqliteMetadataStore.open(join(storage, 'metadata.db'));
  try {
    await fn(new AccountService(store, metadata));
  } finally {
    await store.close();
    await metadata.close();
  }
}

function writeJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function writeTable(context: CliContext, header: string[], rows: string[][]): void {
  const lines = [header, ...rows].map((cells) => cells.join('\t'));
  context.stdout.write(alignColumns(`${lines.join('\n')}\n`));
}

async function collectGarbage(
  options: StorageOption & {
    grace: string;
    dryRun?: boolean;
    deleteUntagged?: boolean;
    full?: boolean;
    format?: string;
  },
  context: CliContext,
): Promise<void> {
  const storage = storageOf(options, context);
  const [{ parseDuration }, { SqliteMetadataStore }, { FilesystemDriver }, { GarbageCollector }] =
    await Promise.all([
      import('../../registry/duration.ts'),
      import('../../registry/metadata/sqlite-metadata-store.ts'),
      import('../../registry/storage/filesystem-driver.ts'),
      import('../../registry/gc/garbage-collector.ts'),
    ]);
  const graceMs = parseDuration(options.grace);
  const { existsSync } = await import('node:fs');
  if (!existsSync(join(storage, 'metadata.db')))
    throw usage(`Cannot collect garbage in ${storage}: no registry storage there`);
  const metadata = SqliteMetadataStore.open(join(storage, 'metadata.db'));
  try {
    // A server may be using the storage: its temp files are live, so they stay.
    const driver = await FilesystemDriver.open(join(storage, 'content'), { sweepTemp: false });
    const gc = new GarbageCollector(driver, metadata);
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const report = await gc.run({
        graceMs,
        dryRun: options.dryRun ?? false,
        deleteUntagged: options.deleteUntagged ?? false,
        full: options.full ?? false,
        signal: abort.signal,
      });
      if (options.format === 'json') writeJson(context, report);
      else context.stdout.write(describeReport(report));
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  } finally {
    await metadata.close();
  }
}

function bytes(count: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function describeReport(report: GcReport): string {
  const lines = [
    `${report.dryRun ? 'Garbage collection dry run (nothing deleted)' : 'Garbage collection'}${report.aborted ? ', stopped early' : ''}: ${report.reviewed} candidates reviewed in ${report.durationMs} ms`,
    `  manifests deleted:   ${report.manifestsDeleted}`,
    `  blob links removed:  ${report.linksRemoved}`,
    `  blobs deleted:       ${report.blobsDeleted} (${bytes(report.blobBytesFreed)})`,
    `  uploads removed:     ${report.uploadsRemoved} (${bytes(report.uploadBytesFreed)})`,
    `  ${report.dryRun ? 'would free' : 'freed'}:${report.dryRun ? '          ' : '               '}${bytes(report.bytesFreed)} (${report.bytesFreed} bytes)`,
  ];
  if (report.resumed.tombstones > 0 || report.resumed.pins > 0) {
    lines.push(
      `  resumed:             ${report.resumed.tombstones} interrupted deletions (${bytes(report.resumed.bytes)}), ${report.resumed.pins} leftovers queued`,
    );
  }
  const queued = report.queued.manifest + report.queued.link + report.queued.blob;
  if (queued > 0) {
    lines.push(
      `  still queued:        ${queued} (younger than the grace${report.deleteUntagged ? '' : ', or untagged manifests: --delete-untagged'})`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function serve(options: ServeOptions, context: CliContext): Promise<void> {
  const [
    { parseAddress, parseRegistryConfig, DEFAULT_REGISTRY_ADDR, DEFAULT_UPLOAD_MAX_AGE_HOURS },
    { RegistryServer },
    { parseDuration },
    { HtpasswdFile },
    { pino },
  ] = await Promise.all([
    import('../../registry/config.ts'),
    import('../../registry/registry-server.ts'),
    import('../../registry/duration.ts'),
    import('../../registry/auth/htpasswd.ts'),
    import('pino'),
  ]);
  const config = options.config
    ? parseRegistryConfig(await readFile(options.config, 'utf8'), options.config)
    : {};
  const { host, port } = parseAddress(options.addr ?? config.addr ?? DEFAULT_REGISTRY_ADDR);
  const storage = resolve(options.storage ?? config.storage ?? join(context.root(), 'registry'));
  const htpasswdPath = options.htpasswd ?? config.auth?.htpasswd;
  const htpasswd = htpasswdPath ? await HtpasswdFile.load(resolve(htpasswdPath)) : undefined;
  const gcInterval = options.gcInterval ?? config.gc?.interval;
  const gcGrace = options.gcGrace ?? config.gc?.grace;
  // Asynchronous, buffered log writes: logging must not cost the request path a syscall each.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino({ level: config.log?.level ?? 'info', base: null }, destination);

  const serverOptions: Parameters<typeof RegistryServer.start>[0] = {
    storage,
    host,
    port,
    logger,
    uploadMaxAgeMs: (config.uploads?.maxAgeHours ?? DEFAULT_UPLOAD_MAX_AGE_HOURS) * 3600 * 1000,
    gc: {
      ...(gcGrace === undefined ? {} : { graceMs: parseDuration(gcGrace) }),
      deleteUntagged: options.gcDeleteUntagged ?? config.gc?.deleteUntagged ?? false,
    },
  };
  if (htpasswd) serverOptions.htpasswd = htpasswd;
  if (config.auth?.service) serverOptions.service = config.auth.service;
  if (config.auth?.realm) serverOptions.realm = config.auth.realm;
  if (gcInterval !== undefined) serverOptions.gcIntervalMs = parseDuration(gcInterval);
  const ui = options.ui === false ? false : (config.ui?.enabled ?? true);
  if (!ui) serverOptions.ui = false;
  const scanDb = options.scanDb ?? config.scan?.db;
  const scanOnPush = options.scanOnPush ?? config.scan?.onPush ?? false;
  const preventVulnerable = config.scan?.preventVulnerable;
  if (scanDb === undefined && (scanOnPush || preventVulnerable)) {
    throw usage(
      `Cannot serve: ${scanOnPush ? 'scanning on push' : 'scan.preventVulnerable'} needs a vulnerability database (--scan-db DIR or "scan": {"db": DIR})`,
    );
  }
  if (scanDb !== undefined) {
    serverOptions.scan = {
      db: resolve(scanDb),
      onPush: scanOnPush,
      ...(preventVulnerable ? { preventVulnerable } : {}),
    };
  }
  const server = await RegistryServer.start(serverOptions);
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
  context.stderr.write(
    `Wharf registry listening on ${server.url} (storage ${storage})${ui ? `, web UI at ${server.url}/ui/` : ''}\n`,
  );
  if (serverOptions.scan) {
    const { db, onPush, preventVulnerable: policy } = serverOptions.scan;
    context.stderr.write(
      `Vulnerability scanning against ${db}${onPush ? ', on push' : ', on demand'}${policy ? `; pulls of images with ${policy.severity} or higher findings are refused` : ''}\n`,
    );
  }
  if (await server.accessControlled()) {
    context.stderr.write(
      `Access control is on: token endpoint ${server.url}/token, service "${server.access.service}"${htpasswd ? `, users from ${htpasswd.path} too` : ''}\n`,
    );
  } else {
    context.stderr.write(
      'Warning: the registry is open to anonymous push and pull (no users are configured; add one with wharf registry user add)\n',
    );
  }
  if (resumable > 0 || removed > 0) {
    context.stderr.write(
      `Recovered upload sessions: ${resumable} resumable, ${removed} abandoned or incomplete removed\n`,
    );
  }
  if (serverOptions.gcIntervalMs) {
    context.stderr.write(`Garbage collection every ${gcInterval} (grace ${gcGrace ?? '1h'})\n`);
  }
  logger.info({ url: server.url, storage, recovery: server.recovery }, 'registry started');

  await stopped;
}
