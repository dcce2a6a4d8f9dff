/**
 * `wharf version`: the client's version, then the engine's, as `docker version` prints them. The
 * engine runs in-process (Podman's way), so its section describes this root's engine: the same
 * `/version` shape the daemon serves (`versionShape`), with the runtime and conmon versions as
 * components. `--format json` or a Go template (`{{.Server.Version}}`) over `{Client, Server}`.
 *
 * @example
 * wharf version --format '{{.Server.Version}}'   # 0.1.0
 */
import type { Command } from 'commander';
import { InternalError } from '../../errors/index.ts';
import { hostPlatform } from '../../oci/platform.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { executeFormat, parseFormat, templateText } from '../format/formatter.ts';
import { API_VERSION, VERSION } from '../version.ts';

/** Docker's client `Version` shape. */
function clientVersion() {
  const platform = hostPlatform();
  return {
    Platform: { Name: '' },
    Version: VERSION,
    ApiVersion: API_VERSION,
    DefaultAPIVersion: API_VERSION,
    GitCommit: '',
    GoVersion: process.version,
    Os: platform.os,
    Arch: platform.architecture,
    BuildTime: '',
    Context: 'default',
  };
}

type ServerVersion = Record<string, unknown> & {
  Components?: { Name: string; Version: string; Details?: Record<string, unknown> }[];
};

/** The in-process engine's `/version` document. */
async function serverVersion(context: CliContext): Promise<ServerVersion> {
  const [{ HostSystemBackend }, { versionShape }] = await Promise.all([
    import('../../daemon/system-description.ts'),
    import('../../engine-api/routes/system-routes.ts'),
  ]);
  return withEngine(context, async (engine) => {
    // only the version facts are read: no image count is needed
    const system = new HostSystemBackend({ root: engine.root, version: VERSION, countImages: async () => 0 });
    return versionShape(await system.describe()) as ServerVersion;
  });
}

export function register(program: Command, context: CliContext): void {
  program
    .command('version')
    .description('Show the Wharf version information')
    .option('-f, --format <format>', 'Format output using a custom template: json, or a Go template')
    .action(async (options: { format?: string }) => {
      // a bad template fails before anything is gathered
      const template =
        options.format && options.format !== 'json' ? parseFormat(templateText(options.format)) : undefined;
      const client = clientVersion();
      if (!options.format) context.stdout.write(renderClient(client));
      const server = await serverVersion(context);
      if (options.format === 'json') {
        context.stdout.write(`${JSON.stringify({ Client: client, Server: server })}\n`);
      } else if (template) {
        const data = { Client: withGoFieldNames(client), Server: withGoFieldNames(server) };
        context.stdout.write(`${executeFormat(template, data)}\n`);
      } else {
        context.stdout.write(renderServer(server));
      }
    });
}

function renderClient(client: ReturnType<typeof clientVersion>): string {
  return [
    'Client:',
    ` Version:           ${client.Version}`,
    ` API version:       ${client.ApiVersion}`,
    ` Node version:      ${client.GoVersion}`,
    ` OS/Arch:           ${client.Os}/${client.Arch}`,
    ` Context:           ${client.Context}`,
    '',
  ].join('\n');
}

/** docker/cli's server section: the platform, then each component with its details. */
function renderServer(server: ServerVersion): string {
  const platform = (server.Platform as { Name?: string } | undefined)?.Name ?? '';
  const lines = ['', `Server:${platform ? ` ${platform}` : ''}`];
  const components = server.Components ?? [];
  if (components.length === 0) throw new InternalError('Cannot describe the engine: no components');
  for (const component of components) {
    lines.push(` ${component.Name}:`);
    const details = component.Details ?? {};
    if (component.Name === 'Engine') {
      lines.push(
        `  Version:          ${component.Version}`,
        `  API version:      ${details.ApiVersion} (minimum version ${details.MinAPIVersion})`,
        `  Node version:     ${details.GoVersion}`,
        `  Git commit:       ${details.GitCommit ?? ''}`,
        `  Built:            ${details.BuildTime ?? ''}`,
        `  OS/Arch:          ${details.Os}/${details.Arch}`,
        `  Experimental:     ${details.Experimental}`,
      );
    } else {
      lines.push(`  Version:          ${component.Version}`);
      for (const [key, value] of Object.entries(details)) lines.push(`  ${`${key}:`.padEnd(17)} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A copy of a version object where templates also find the Go field name `APIVersion` (the JSON
 * key is `ApiVersion`): scripts write `docker version -f '{{.Server.APIVersion}}'`. The alias is
 * not enumerable, so `{{json .}}` still prints Docker's keys only.
 */
function withGoFieldNames<T extends object>(version: T): T {
  const copy = { ...version };
  if ('ApiVersion' in version) {
    Object.defineProperty(copy, 'APIVersion', { enumerable: false, value: version.ApiVersion });
  }
  return copy;
}
