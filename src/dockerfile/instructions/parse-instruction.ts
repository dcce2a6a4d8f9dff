/**
 * One AST node to one typed instruction, with BuildKit's checks and messages
 * (frontend/dockerfile/instructions/parse.go): argument counts, flags and their values, stage
 * names, ONBUILD restrictions, unknown instructions. Some checks BuildKit makes only when an
 * instruction runs are made here too when no variable is involved (`--chmod`, every `--mount`
 * option), so a Dockerfile fails before anything runs; the messages are the same.
 */
import type { Heredoc, InstructionNode } from '../ast.ts';
import { DockerfileError } from '../errors.ts';
import { mustParseHeredocWord } from '../heredoc.ts';
import { goQuote } from '../parser/go-quote.ts';
import { goToLower, goToUpper, goTrimSpace } from '../parser/go-text.ts';
import { splitCommand } from '../parser/split-command.ts';
import { ShellLexer, ShellWordError } from '../shell-lexer.ts';
import { validateKnownInstructions } from '../validate-known-instructions.ts';
import { parseChmod } from './chmod.ts';
import type {
  AddCommand,
  ArgCommand,
  ArgDefinition,
  CmdCommand,
  CommandBase,
  CopyCommand,
  EntrypointCommand,
  EnvCommand,
  ExposeCommand,
  FromCommand,
  HealthcheckCommand,
  Instruction,
  KeyValuePair,
  LabelCommand,
  MaintainerCommand,
  Mount,
  NetworkMode,
  OnbuildCommand,
  RunCommand,
  SecurityMode,
  ShellCommand,
  ShellInlineFile,
  SourceContent,
  SourcesAndDest,
  StopsignalCommand,
  UserCommand,
  VolumeCommand,
  WorkdirCommand,
} from './commands.ts';
import { PortError, parseExposedPorts } from './expose-ports.ts';
import { FlagError, InstructionFlags } from './flags.ts';
import { formatGoDuration, GoValueError, parseGoDuration, parseGoInt } from './go-values.ts';
import { MountError, parseDevice, parseMount } from './run-mounts.ts';

export interface ParseInstructionOptions {
  /** The Dockerfile's name, for messages. */
  file: string;
  /** The escape character in effect (`\` or `` ` ``). */
  escapeChar: string;
}

/** A failure inside one instruction; turned into a DockerfileError naming the file and line. */
class InstructionFailure extends Error {}

const fail = (message: string) => new InstructionFailure(message);
const atLeastOne = (command: string) => fail(`${command} requires at least one argument`);
const exactlyOne = (command: string) => fail(`${command} requires exactly one argument`);
const noDestination = (command: string) =>
  fail(
    `${command} requires at least two arguments, but only one was provided. Destination could not be determined`,
  );

/** BuildKit's validStageName, applied to the lowercased name. */
const VALID_STAGE_NAME = /^[a-z][a-z0-9_.-]*$/;
const EMPTY_ENV = new Map<string, string>();

interface Request {
  node: InstructionNode;
  /** The instruction word as written. */
  name: string;
  args: string[];
  flags: InstructionFlags;
  base: CommandBase;
  options: ParseInstructionOptions;
}

/** The instruction word as written (the AST keeps it lowercased). */
function writtenWord(node: InstructionNode, escapeChar: string): string {
  return splitCommand(node.original, escapeChar).cmd || node.keyword;
}

/** BuildKit's nodeArgs: ONBUILD's arguments are its trigger's word and arguments. */
function nodeArgs(node: InstructionNode, escapeChar: string): string[] {
  if (node.keyword === 'onbuild') {
    return node.trigger ? [writtenWord(node.trigger, escapeChar), ...node.trigger.args] : [];
  }
  return [...node.args];
}

/**
 * Parses one instruction node into its typed command (FROM gives a {@link FromCommand}).
 *
 * @example
 * const ast = parseDockerfile('FROM alpine AS build\nCOPY --chmod=0644 a /b\n');
 * parseInstruction(ast.instructions[1]!, { file: 'Dockerfile', escapeChar: '\\' });
 * // { kind: 'copy', sourcePaths: ['a'], destPath: '/b', chmod: '0644', ... }
 * @throws DockerfileError naming the file and line, with BuildKit's message
 */
export function parseInstruction(node: InstructionNode, options: ParseInstructionOptions): Instruction {
  const name = writtenWord(node, options.escapeChar);
  const req: Request = {
    node,
    name,
    args: nodeArgs(node, options.escapeChar),
    flags: new InstructionFlags(node.flags),
    base: {
      name,
      file: options.file,
      code: goTrimSpace(node.original),
      range: { ...node.range },
      comments: [...node.comments],
    },
    options,
  };
  try {
    return dispatch(req);
  } catch (error) {
    if (
      error instanceof InstructionFailure ||
      error instanceof FlagError ||
      error instanceof MountError ||
      error instanceof PortError ||
      error instanceof GoValueError ||
      error instanceof ShellWordError
    ) {
      throw new DockerfileError(options.file, node.range.startLine, error.message, { cause: error });
    }
    throw error;
  }
}

function dispatch(req: Request): Instruction {
  switch (req.node.keyword) {
    case 'env':
      return parseEnv(req);
    case 'maintainer':
      return parseMaintainer(req);
    case 'label':
      return parseLabel(req);
    case 'add':
      return parseAdd(req);
    case 'copy':
      return parseCopy(req);
    case 'from':
      return parseFrom(req);
    case 'onbuild':
      return parseOnbuild(req);
    case 'workdir':
      return parseWorkdir(req);
    case 'run':
      return parseRun(req);
    case 'cmd':
      return parseCmd(req);
    case 'healthcheck':
      return parseHealthcheck(req);
    case 'entrypoint':
      return parseEntrypoint(req);
    case 'expose':
      return parseExpose(req);
    case 'user':
      return parseUser(req);
    case 'volume':
      return parseVolume(req);
    case 'stopsignal':
      return parseStopsignal(req);
    case 'arg':
      return parseArg(req);
    case 'shell':
      return parseShell(req);
  }
  // Same message and suggestion as the parser's check (`unknown instruction: FORM (did you mean FROM?)`).
  validateKnownInstructions({
    file: req.options.file,
    directives: [],
    escapeChar: req.options.escapeChar,
    instructions: [req.node],
    warnings: [],
  });
  throw fail(`unknown instruction: ${req.name}`);
}

function parseKvps(args: string[], command: string): KeyValuePair[] {
  if (args.length === 0) throw atLeastOne(command);
  if (args.length % 3 !== 0) throw fail(`Bad input to ${command}, too many arguments`);
  const pairs: KeyValuePair[] = [];
  for (let j = 0; j < args.length; j += 3) {
    if (args[j] === '') throw fail(`${command} names can not be blank`);
    pairs.push({ key: args[j]!, value: args[j + 1]!, noDelim: args[j + 2] === '' });
  }
  return pairs;
}

function parseEnv(req: Request): EnvCommand {
  req.flags.parse();
  return { ...req.base, kind: 'env', env: parseKvps(req.args, 'ENV') };
}

function parseMaintainer(req: Request): MaintainerCommand {
  if (req.args.length !== 1) throw exactlyOne('MAINTAINER');
  req.flags.parse();
  return { ...req.base, kind: 'maintainer', maintainer: req.args[0]! };
}

function parseLabel(req: Request): LabelCommand {
  req.flags.parse();
  return { ...req.base, kind: 'label', labels: parseKvps(req.args, 'LABEL') };
}

/** Sources, heredoc sources and destination; `--chmod` is checked now unless it holds a variable. */
function parseSourcesAndDest(
  req: Request,
  command: string,
): Omit<SourcesAndDest, 'link' | 'excludePatterns'> {
  const sources = req.args.slice(0, -1);
  const dest = req.args.at(-1)!;
  if (mustParseHeredocWord(dest)) throw fail(`${command} cannot accept a heredoc as a destination`);
  const heredocs = new Map<string, Heredoc>(req.node.heredocs.map((h) => [h.name, h]));
  const sourcePaths: string[] = [];
  const sourceContents: SourceContent[] = [];
  for (const source of sources) {
    const heredoc = mustParseHeredocWord(source);
    if (heredoc) {
      sourceContents.push({
        path: heredoc.name,
        data: heredocs.get(heredoc.name)?.content ?? '',
        expand: heredoc.expand,
      });
    } else {
      sourcePaths.push(source);
    }
  }
  const chown = req.flags.string('chown');
  const chmod = req.flags.string('chmod');
  if (chmod !== '' && !chmod.includes('$')) parseChmod(chmod);
  return { sourcePaths, sourceContents, destPath: dest, chown, chmod };
}

function parseAdd(req: Request): AddCommand {
  if (req.args.length < 2) throw noDestination('ADD');
  const f = req.flags;
  f.addString('chown', '');
  f.addString('chmod', '');
  f.addBool('link', false);
  f.addBool('keep-git-dir', false);
  f.addString('checksum', '');
  f.addBool('unpack', false);
  f.addStrings('exclude');
  f.parse();
  const command: AddCommand = {
    ...req.base,
    kind: 'add',
    ...parseSourcesAndDest(req, 'ADD'),
    link: f.bool('link'),
    excludePatterns: f.strings('exclude'),
    checksum: f.string('checksum'),
  };
  if (f.isUsed('keep-git-dir')) command.keepGitDir = f.bool('keep-git-dir');
  if (f.isUsed('unpack')) command.unpack = f.bool('unpack');
  return command;
}

function parseCopy(req: Request): CopyCommand {
  if (req.args.length < 2) throw noDestination('COPY');
  const f = req.flags;
  f.addString('chown', '');
  f.addString('from', '');
  f.addString('chmod', '');
  f.addBool('link', false);
  f.addStrings('exclude');
  f.addBool('parents', false);
  f.parse();
  const from = f.string('from');
  if (from !== '') {
    // BuildKit refuses variables in --from (it resolves stage dependencies before expanding).
    const lexer = new ShellLexer({ escapeToken: req.options.escapeChar });
    if (lexer.processWordWithMatches(from, EMPTY_ENV).result !== from) {
      throw fail(
        'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
      );
    }
  }
  return {
    ...req.base,
    kind: 'copy',
    ...parseSourcesAndDest(req, 'COPY'),
    from,
    link: f.bool('link'),
    parents: f.bool('parents'),
    excludePatterns: f.strings('exclude'),
  };
}

function parseBuildStageName(args: string[]): string {
  if (args.length === 3 && goToLower(args[1]!) === 'as') {
    const name = goToLower(args[2]!);
    if (!VALID_STAGE_NAME.test(name)) {
      throw fail(
        `invalid name for build stage: ${goQuote(args[2]!)}, name can't start with a number or contain symbols`,
      );
    }
    return name;
  }
  if (args.length !== 1) {
    throw fail('FROM requires either one or three arguments (FROM <image> or FROM <image> AS <name>)');
  }
  return '';
}

function docComment(comments: readonly string[], name: string): string {
  if (name === '') return '';
  for (const line of comments) if (line.startsWith(`${name} `)) return line.slice(name.length + 1);
  return '';
}

function parseFrom(req: Request): FromCommand {
  const stageName = parseBuildStageName(req.args);
  req.flags.addString('platform', '');
  req.flags.parse();
  return {
    ...req.base,
    kind: 'from',
    baseName: req.args[0]!,
    stageName,
    platform: req.flags.string('platform'),
    docComment: docComment(req.base.comments, stageName),
  };
}

function parseOnbuild(req: Request): OnbuildCommand {
  if (req.args.length === 0 || !req.node.trigger) throw atLeastOne('ONBUILD');
  req.flags.parse();
  const trigger = goToUpper(goTrimSpace(req.args[0]!));
  if (trigger === 'ONBUILD') throw fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger === 'MAINTAINER' || trigger === 'FROM')
    throw fail(`${trigger} isn't allowed as an ONBUILD trigger`);
  let expression = req.node.original.replace(/^[\t\n\f\r ]*onbuild[\t\n\f\r ]*/i, '');
  for (const heredoc of req.node.heredocs) expression += `\n${heredoc.content}${heredoc.name}`;
  return { ...req.base, kind: 'onbuild', expression, trigger: req.node.trigger };
}

function parseWorkdir(req: Request): WorkdirCommand {
  if (req.args.length !== 1) throw exactlyOne('WORKDIR');
  req.flags.parse();
  return { ...req.base, kind: 'workdir', path: req.args[0]! };
}

/** BuildKit's handleJSONArgs: exec form as is, shell form joined into one string. */
function handleJsonArgs(args: string[], json: boolean): string[] {
  if (args.length === 0) return [];
  return json ? [...args] : [args.join(' ')];
}

function inlineFiles(heredocs: readonly Heredoc[]): ShellInlineFile[] {
  return heredocs.map((h) => {
    const file: ShellInlineFile = { name: h.name, data: h.content, chomp: h.chomp };
    if (h.fileDescriptor !== undefined) file.fileDescriptor = h.fileDescriptor;
    return file;
  });
}

function parseRun(req: Request): RunCommand {
  const f = req.flags;
  f.addStrings('device');
  f.addStrings('mount');
  f.addString('network', 'default');
  f.addString('security', 'sandbox');
  f.parse();
  const flagsUsed = f.used();
  const cmdLine = handleJsonArgs(req.args, req.node.json);
  const devices = f.strings('device').map((value) => parseDevice(value));
  const mountSpecs = f.strings('mount');
  const lexer = new ShellLexer({ escapeToken: req.options.escapeChar });
  const mounts: Mount[] = mountSpecs.map((spec) => {
    const deferred = parseMount(spec);
    // With no variable in it, the mount means the same when the RUN runs: check it all now.
    return spec.includes('$') ? deferred : parseMount(spec, (word) => lexer.processWord(word, EMPTY_ENV));
  });
  const network = f.string('network');
  if (network !== 'default' && network !== 'none' && network !== 'host') {
    throw fail(`invalid network mode ${goQuote(network)}`);
  }
  const security = f.string('security');
  if (security !== 'sandbox' && security !== 'insecure')
    throw fail(`security ${goQuote(security)} is not valid`);
  return {
    ...req.base,
    kind: 'run',
    cmdLine,
    prependShell: !req.node.json,
    files: inlineFiles(req.node.heredocs),
    mounts,
    mountSpecs,
    network: network as NetworkMode,
    security: security as SecurityMode,
    devices,
    flagsUsed,
  };
}

function parseCmd(req: Request): CmdCommand {
  req.flags.parse();
  return {
    ...req.base,
    kind: 'cmd',
    cmdLine: handleJsonArgs(req.args, req.node.json),
    prependShell: !req.node.json,
    files: inlineFiles(req.node.heredocs),
  };
}

function parseEntrypoint(req: Request): EntrypointCommand {
  req.flags.parse();
  const args = handleJsonArgs(req.args, req.node.json);
  return {
    ...req.base,
    kind: 'entrypoint',
    cmdLine: args.length === 0 ? null : args,
    prependShell: !req.node.json,
    files: inlineFiles(req.node.heredocs),
  };
}

/** A HEALTHCHECK duration flag: Go duration syntax, 0 or at least 1ms. */
function parseInterval(name: string, value: string): number {
  if (value === '') return 0;
  const ns = parseGoDuration(value);
  if (ns === 0n) return 0;
  if (ns < 1_000_000n)
    throw fail(`Interval ${goQuote(name)} cannot be less than ${formatGoDuration(1_000_000n)}`);
  return Number(ns);
}

function parseHealthcheck(req: Request): HealthcheckCommand {
  if (req.args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = goToUpper(req.args[0]!);
  const args = req.args.slice(1);
  const health = {
    test: [] as string[],
    interval: 0,
    timeout: 0,
    startPeriod: 0,
    startInterval: 0,
    retries: 0,
  };
  if (type === 'NONE') {
    // As BuildKit: flags are not looked at for NONE.
    if (args.length !== 0) throw fail('HEALTHCHECK NONE takes no arguments');
    health.test = [type];
    return { ...req.base, kind: 'healthcheck', health };
  }
  const f = req.flags;
  f.addString('interval', '');
  f.addString('timeout', '');
  f.addString('start-period', '');
  f.addString('start-interval', '');
  f.addString('retries', '');
  f.parse();
  if (type !== 'CMD') throw fail(`Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`);
  const cmd = handleJsonArgs(args, req.node.json);
  if (cmd.length === 0) throw fail('Missing command after HEALTHCHECK CMD');
  health.test = [req.node.json ? 'CMD' : 'CMD-SHELL', ...cmd];
  health.interval = parseInterval('interval', f.string('interval'));
  health.timeout = parseInterval('timeout', f.string('timeout'));
  health.startPeriod = parseInterval('start-period', f.string('start-period'));
  health.startInterval = parseInterval('start-interval', f.string('start-interval'));
  const retries = f.string('retries');
  if (retries !== '') {
    health.retries = parseGoInt(retries, 32);
    if (health.retries < 0) throw fail(`--retries cannot be negative (${health.retries})`);
  }
  return { ...req.base, kind: 'healthcheck', health };
}

/** Go's sort.Strings: by bytes. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function parseExpose(req: Request): ExposeCommand {
  if (req.args.length === 0) throw atLeastOne('EXPOSE');
  req.flags.parse();
  // Words without variables are checked now; BuildKit checks all of them when EXPOSE runs.
  const lexer = new ShellLexer({ escapeToken: req.options.escapeChar });
  for (const port of req.args) {
    if (!port.includes('$')) parseExposedPorts(lexer.processWords(port, EMPTY_ENV));
  }
  return { ...req.base, kind: 'expose', ports: [...req.args].sort(byBytes) };
}

function parseUser(req: Request): UserCommand {
  if (req.args.length !== 1) throw exactlyOne('USER');
  req.flags.parse();
  return { ...req.base, kind: 'user', user: req.args[0]! };
}

function parseVolume(req: Request): VolumeCommand {
  if (req.args.length === 0) throw atLeastOne('VOLUME');
  req.flags.parse();
  const volumes = req.args.map((v) => goTrimSpace(v));
  if (volumes.includes('')) throw fail('VOLUME specified can not be an empty string');
  return { ...req.base, kind: 'volume', volumes };
}

function parseStopsignal(req: Request): StopsignalCommand {
  // As BuildKit: STOPSIGNAL does not look at flags.
  if (req.args.length !== 1) throw exactlyOne('STOPSIGNAL');
  return { ...req.base, kind: 'stopsignal', signal: req.args[0]! };
}

function parseArg(req: Request): ArgCommand {
  // As BuildKit: ARG does not look at flags.
  if (req.args.length < 1) throw atLeastOne('ARG');
  const args: ArgDefinition[] = req.args.map((arg) => {
    const eq = arg.indexOf('=');
    if (eq < 0) return { key: arg, docComment: docComment(req.base.comments, arg) };
    const key = arg.slice(0, eq);
    if (key === '') throw fail('ARG names can not be blank');
    return { key, value: arg.slice(eq + 1), docComment: docComment(req.base.comments, key) };
  });
  return { ...req.base, kind: 'arg', args };
}

function parseShell(req: Request): ShellCommand {
  req.flags.parse();
  const shell = handleJsonArgs(req.args, req.node.json);
  if (shell.length === 0) throw atLeastOne('SHELL');
  if (!req.node.json)
    throw fail('SHELL requires the arguments to be in JSON form (SHELL ["executable", "param1"])');
  return { ...req.base, kind: 'shell', shell };
}
