/**
 * `wharf build` (and `wharf image build`, `wharf builder build`): Docker's flags, BuildKit's
 * plain progress on stderr, the image id on stdout with `-q`. The build runs in this process
 * (no daemon, no context upload). A failed step prints its output and Dockerfile lines, as the
 * docker CLI does, and the command exits 1.
 *
 * The context is a directory, an http(s) URL (a tar context, or a Dockerfile), or `-`: a tar
 * (plain or compressed) is a context, anything else is a Dockerfile with no context.
 *
 * BuildKit's flags beyond the classic ones: `--secret` (RUN --mount=type=secret), `--allow`
 * (entitlements: network.host, security.insecure), `-o/--output` (local, tar, oci, docker,
 * image), `--no-cache-filter`; the environment's SOURCE_DATE_EPOCH becomes the build-arg, as
 * docker buildx passes it.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { InvalidArgumentError, WharfError } from '../../errors/index.ts';
import { parsePlatform } from '../../oci/platform.ts';
import { parseReference, ReferenceFormatError } from '../../oci/reference.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface BuildFlags {
  secret: string[];
  allow: string[];
  output: string[];
  /** `--no-cache-filter` (commander names a `--no-` option after the rest of it). */
  cacheFilter: string[];
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  cache: boolean;
  pull?: boolean;
  label: string[];
  platform?: string;
  quiet?: boolean;
  iidfile?: string;
  progress: string;
  network?: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** True when `data` starts like a tar archive, plain or compressed. */
function looksLikeArchive(data: Buffer): boolean {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return true;
  if (data.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  if (data.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return true;
  if (data.length < 512) return false;
  return data.subarray(257, 262).toString('latin1') === 'ustar';
}

function parseKeyValues(list: readonly string[], what: string, fromEnv: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0)
      throw new InvalidArgumentError(`Cannot use ${what} ${JSON.stringify(item)}: the name is empty`);
    if (eq < 0) {
      // `--build-arg NAME` takes NAME from the environment, and is skipped when unset.
      const value = fromEnv ? process.env[item] : '';
      if (value !== undefined) out.set(item, value);
      continue;
    }
    out.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return out;
}

/**
 * `--secret id=ID[,src=FILE|,env=VAR][,type=file|env]`, as docker buildx reads it: a file (`src`
 * or `source`), an environment variable (`env`), or with only an id the variable of that name.
 */
export function parseSecret(
  spec: string,
  env: NodeJS.ProcessEnv = process.env,
): { id: string; value: Buffer } {
  const fields = new Map<string, string>();
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0)
      throw new InvalidArgumentError(`Cannot use secret ${JSON.stringify(spec)}: ${field} is not key=value`);
    fields.set(field.slice(0, eq).trim().toLowerCase(), field.slice(eq + 1));
  }
  const id = fields.get('id') ?? '';
  const type = fields.get('type');
  if (type !== undefined && type !== 'file' && type !== 'env')
    throw new InvalidArgumentError(`Cannot use secret ${JSON.stringify(spec)}: type must be file or env`);
  const file = fields.get('src') ?? fields.get('source');
  const variable = fields.get('env');
  if (id === '' && !file && !variable)
    throw new InvalidArgumentError(`Cannot use secret ${JSON.stringify(spec)}: no id`);
  const secretId = id || (file ? basename(file) : (variable ?? ''));
  const fromEnv = (name: string): { id: string; value: Buffer } | undefined => {
    const value = env[name];
    return value === undefined ? undefined : { id: secretId, value: Buffer.from(value) };
  };
  const fromFile = (path: string): { id: string; value: Buffer } => {
    try {
      return { id: secretId, value: readFileSync(path) };
    } catch (error) {
      throw new InvalidArgumentError(
        `Cannot read secret ${secretId} from ${path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  };
  if (type === 'env' || (variable !== undefined && type !== 'file')) {
    // type=env takes the variable named by env= (or src=, or the id)
    const name = variable ?? file ?? secretId;
    const secret = fromEnv(name);
    if (!secret)
      throw new InvalidArgumentError(
        `Cannot use secret ${secretId}: environment variable ${name} is not set`,
      );
    return secret;
  }
  if (file !== undefined) return fromFile(file);
  // only an id: the variable of that name when set, else the file of that name
  return fromEnv(secretId) ?? fromFile(secretId);
}

type OutputSpec =
  | { type: 'image' }
  | { type: 'local'; dest: string }
  | { type: 'tar' | 'oci' | 'docker'; dest: string };

/** `-o DIR`, `-o -` (a tar on stdout) or `--output type=...,dest=...`, as docker buildx parses them. */
export function parseOutput(spec: string): OutputSpec {
  if (!spec.includes('=')) {
    if (spec === '-') return { type: 'tar', dest: '-' };
    return { type: 'local', dest: spec };
  }
  const fields = new Map<string, string>();
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0)
      throw new InvalidArgumentError(`Cannot use output ${JSON.stringify(spec)}: ${field} is not key=value`);
    fields.set(field.slice(0, eq).trim().toLowerCase(), field.slice(eq + 1));
  }
  const type = fields.get('type') ?? 'local';
  const dest = fields.get('dest');
  switch (type) {
    case 'image':
    case 'moby':
      return { type: 'image' };
    case 'local':
      if (!dest) throw new InvalidArgumentError('Cannot use output type local: dest is required');
      return { type, dest };
    case 'tar':
    case 'oci':
    case 'docker':
      if (!dest)
        throw new InvalidArgumentError(`Cannot use output type ${type}: dest is required (- for stdout)`);
      return { type, dest };
    default:
      throw new InvalidArgumentError(
        `Cannot use output type ${type}: choose image, local, tar, oci or docker (registry pushes are not supported)`,
      );
  }
}

const ENTITLEMENTS = ['network.host', 'security.insecure'];

export function addBuild(parent: Command, context: CliContext): void {
  parent
    .command('build')
    .description('Build an image from a Dockerfile')
    .argument('<context>', 'context directory, or - to read a tar context or a Dockerfile from stdin')
    .option('-t, --tag <name>', 'name and optionally a tag in the name:tag format', collect, [])
    .option('-f, --file <file>', 'name of the Dockerfile (default: CONTEXT/Dockerfile); - for stdin')
    .option('--build-arg <arg>', 'set build-time variables', collect, [])
    .option('--target <stage>', 'set the target build stage to build')
    .option('--no-cache', 'do not use cache when building the image')
    .option('--pull', 'always attempt to pull base images')
    .option('--label <label>', 'set metadata for an image', collect, [])
    .option('--platform <platform>', 'set target platform for build')
    .option('-q, --quiet', 'suppress the build output and print image ID on success')
    .option('--iidfile <file>', 'write the image ID to the file')
    .option('--progress <type>', 'set type of progress output (auto, plain, tty, quiet)', 'auto')
    .option('--network <mode>', 'set the networking mode for the RUN instructions (none, host)')
    .option('--secret <spec>', 'secret to expose to the build (id=ID,src=FILE or id=ID,env=VAR)', collect, [])
    .option('--allow <entitlement>', 'allow extra privileges: network.host, security.insecure', collect, [])
    .option(
      '-o, --output <spec>',
      'output destination (type=local|tar|oci|docker|image,dest=PATH; a directory; - for a tar on stdout)',
      collect,
      [],
    )
    .option('--no-cache-filter <stage>', 'do not cache the given stages', collect, [])
    .action(async (contextArg: string, flags: BuildFlags) => {
      if (process.env.WHARF_BUILD_TRACE === '1')
        process.stderr.write(`[trace] build verb at ${(process.uptime() * 1000).toFixed(1)}ms\n`);
      const progressMode = flags.quiet ? 'quiet' : flags.progress;
      if (!['auto', 'plain', 'tty', 'quiet', 'rawjson'].includes(progressMode)) {
        throw new InvalidArgumentError(
          `Cannot use progress ${progressMode}: choose auto, plain, tty or quiet`,
        );
      }
      const allow = flags.allow.flatMap((a) => a.split(',')).filter((a) => a !== '');
      for (const entitlement of allow) {
        if (!ENTITLEMENTS.includes(entitlement))
          throw new InvalidArgumentError(`Cannot allow ${entitlement}: choose ${ENTITLEMENTS.join(' or ')}`);
      }
      let network: 'none' | 'host' | undefined;
      if (flags.network !== undefined) {
        if (flags.network === 'host') {
          // BuildKit's force-network-mode=host: an entitlement like RUN --network=host
          if (!allow.includes('network.host'))
            throw new InvalidArgumentError(
              'Cannot use network host: entitlement network.host is not allowed (add --allow network.host)',
            );
          network = 'host';
        } else if (flags.network === 'none' || flags.network === 'default') network = 'none';
        else
          throw new InvalidArgumentError(
            `Cannot use network ${flags.network}: builds take none, default or host`,
          );
      }
      if (flags.output.length > 1)
        throw new InvalidArgumentError('Cannot use several --output: give one exporter');
      const output = flags.output.length === 1 ? parseOutput(flags.output[0]!) : undefined;
      if (
        output &&
        output.type !== 'image' &&
        output.type !== 'local' &&
        output.dest === '-' &&
        process.stdout.isTTY
      )
        throw new InvalidArgumentError(
          `Cannot write the ${output.type} output to a terminal: redirect stdout or give dest=FILE`,
        );
      const secrets = new Map(
        flags.secret.map((spec) => {
          const secret = parseSecret(spec);
          return [secret.id, secret.value] as const;
        }),
      );
      const noCacheFilter = flags.cacheFilter.flatMap((f) => f.split(',')).filter((f) => f !== '');
      if (contextArg === '-' && flags.file === '-') {
        throw new InvalidArgumentError('Cannot read both the context and the Dockerfile from stdin');
      }
      // Before any work, as docker buildx checks its tags: a typo must not cost a whole build.
      for (const tag of flags.tag) {
        try {
          parseReference(tag);
        } catch (error) {
          if (error instanceof ReferenceFormatError)
            throw new CliExit(1, `ERROR: invalid tag ${JSON.stringify(tag)}: ${error.reason}`);
          throw error;
        }
      }
      const platform = flags.platform ? parsePlatform(flags.platform) : undefined;
      const labels = Object.fromEntries(parseKeyValues(flags.label, 'label', false));
      const buildArgs = parseKeyValues(flags.buildArg, 'build-arg', true);
      // as docker buildx does: the client's SOURCE_DATE_EPOCH is the build-arg unless one is given
      if (process.env.SOURCE_DATE_EPOCH !== undefined && !buildArgs.has('SOURCE_DATE_EPOCH'))
        buildArgs.set('SOURCE_DATE_EPOCH', process.env.SOURCE_DATE_EPOCH);

      let tmp: string | undefined;
      try {
        let input: { directory: string } | { tarFile: string } | { url: string } | undefined;
        let dockerfile: { path: string } | { text: string } | undefined;
        if (flags.file === '-') dockerfile = { text: (await readStdin()).toString('utf8') };
        else if (flags.file !== undefined) dockerfile = { path: flags.file };
        if (contextArg === '-') {
          const data = await readStdin();
          if (looksLikeArchive(data)) {
            tmp = await mkdtemp(join(tmpdir(), 'wharf-build-stdin-'));
            const file = join(tmp, 'context.tar');
            await writeFile(file, data);
            input = { tarFile: file };
          } else dockerfile = { text: data.toString('utf8') };
        } else if (/^https?:\/\//.test(contextArg)) {
          if (/\.git(#|$)/.test(contextArg))
            throw new InvalidArgumentError(
              `Cannot build from ${contextArg}: git contexts are not supported yet`,
            );
          input = { url: contextArg };
        } else input = { directory: contextArg };

        {
          // Not withEngine: the build service opens only the stores a build needs (fast cached rebuilds).
          const {
            openBuildEngine,
            BuildProgress,
            PlainProgressPrinter,
            QuietProgressPrinter,
            BuildStepError,
          } = await import('../../engine/build-service.ts');
          const printer =
            progressMode === 'quiet' ? new QuietProgressPrinter() : new PlainProgressPrinter(context.stderr);
          if (process.env.WHARF_BUILD_TRACE === '1')
            process.stderr.write(
              `[trace] build service loaded at ${(process.uptime() * 1000).toFixed(1)}ms\n`,
            );
          const service = await openBuildEngine(context.root());
          if (process.env.WHARF_BUILD_TRACE === '1')
            process.stderr.write(`[trace] stores open at ${(process.uptime() * 1000).toFixed(1)}ms\n`);
          try {
            const result = await service.buildFrom({
              context: input,
              ...(dockerfile ? { dockerfile } : {}),
              buildArgs,
              ...(flags.target ? { target: flags.target } : {}),
              noCache: !flags.cache,
              pull: flags.pull === true,
              labels,
              ...(platform ? { platform } : {}),
              tags: flags.tag,
              ...(network ? { network } : {}),
              ...(allow.length > 0 ? { allow } : {}),
              ...(secrets.size > 0 ? { secrets } : {}),
              ...(noCacheFilter.length > 0 ? { noCacheFilter } : {}),
              ...(output
                ? {
                    output:
                      output.type === 'image' || output.type === 'local'
                        ? output
                        : {
                            type: output.type,
                            dest: output.dest === '-' ? (context.stdout as Writable) : output.dest,
                          },
                  }
                : {}),
              progress: new BuildProgress(printer),
            });
            if (flags.iidfile) await writeFile(flags.iidfile, result.imageId);
            // stdout carries the archive when the output goes there
            const toStdout = output !== undefined && 'dest' in output && output.dest === '-';
            if (progressMode === 'quiet' && !toStdout) context.stdout.write(`${result.imageId}\n`);
          } catch (error) {
            if (error instanceof BuildStepError) throw new CliExit(1, error.report().trimEnd());
            if (error instanceof WharfError) throw new CliExit(1, `ERROR: failed to solve: ${error.message}`);
            throw error;
          } finally {
            await service.close();
          }
        }
      } finally {
        if (tmp) await rm(tmp, { recursive: true, force: true });
      }
    });
}

export function register(program: Command, context: CliContext): void {
  addBuild(program, context);
}
