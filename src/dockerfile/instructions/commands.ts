/**
 * Typed Dockerfile instructions, one per instruction, as BuildKit's
 * frontend/dockerfile/instructions/commands.go defines them. Values are as written (variables
 * not yet expanded); `expandCommand` gives the expanded copy the builder runs.
 */
import type { InstructionNode, SourceRange } from '../ast.ts';

/** Fields every command has. */
export interface CommandBase {
  /** The instruction word as written (`RUN`, `run`): BuildKit's `Name()`. */
  name: string;
  /** The file the instruction came from, for messages. */
  file: string;
  /** The instruction's text, continuation lines joined and trimmed: BuildKit's `String()`. */
  code: string;
  range: SourceRange;
  /** Comment lines directly above the instruction, without the `#`. */
  comments: string[];
}

/** `KEY=value` of ENV and LABEL; `noDelim` for the legacy `ENV KEY value` form. */
export interface KeyValuePair {
  key: string;
  value: string;
  noDelim: boolean;
}

/** One name of an ARG line; `value` is undefined for `ARG NAME` without a default. */
export interface ArgDefinition {
  key: string;
  value?: string;
  /** The text after `# NAME ` in the comments above, BuildKit's doc comment. */
  docComment: string;
}

/** A COPY/ADD source given inline as a heredoc (`COPY <<EOF /dst`). */
export interface SourceContent {
  /** The heredoc word, which names the file created. */
  path: string;
  data: string;
  /** False when the delimiter was quoted: no variable expansion. */
  expand: boolean;
}

/** A heredoc of a RUN (or CMD/ENTRYPOINT): the script or file content. */
export interface ShellInlineFile {
  name: string;
  data: string;
  /** `<<-`: leading tabs stripped (the parser has already done so). */
  chomp: boolean;
  /** The file descriptor written before `<<` (`3<<EOF`), when any. */
  fileDescriptor?: number;
}

export interface FromCommand extends CommandBase {
  kind: 'from';
  /** The image or stage word, unexpanded (`alpine:${TAG}`). */
  baseName: string;
  /** The stage name after AS, lowercased; "" when unnamed. */
  stageName: string;
  /** `--platform` as written; "" when absent. */
  platform: string;
  /** The doc comment for the stage (`# name description` above it). */
  docComment: string;
}

export interface RunCommand extends CommandBase {
  kind: 'run';
  /** Exec form: the argv. Shell form: one element, the command line. */
  cmdLine: string[];
  /** True for shell form: the current SHELL is prepended. */
  prependShell: boolean;
  /** Heredocs: with shell form, the first one is the script. */
  files: ShellInlineFile[];
  mounts: Mount[];
  /** The `--mount` values as written, parsed again with variables by `expandCommand`. */
  mountSpecs: string[];
  network: NetworkMode;
  security: SecurityMode;
  devices: Device[];
  /** The flags written on the RUN (`mount`, `network`, ...). */
  flagsUsed: string[];
}

export type NetworkMode = 'default' | 'none' | 'host';
export type SecurityMode = 'sandbox' | 'insecure';
export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

/**
 * A `RUN --mount`, BuildKit's Mount: one record for all types; options a type does not use
 * keep their zero values. Defaults that depend on the type (cache `id` = target, secret target
 * `/run/secrets/<id>`, modes 0755/0400/0600) are applied by the builder.
 */
export interface Mount {
  type: MountType;
  from: string;
  source: string;
  target: string;
  readOnly: boolean;
  /** tmpfs `size` in bytes; 0 when not set. */
  sizeLimit: number;
  /** `id` of cache, secret and ssh mounts. */
  cacheId: string;
  cacheSharing: CacheSharing | '';
  required: boolean;
  /** Secret `env=NAME`. */
  env?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** A `RUN --device=name[,required]` (CDI device). */
export interface Device {
  name: string;
  required: boolean;
}

export interface CmdCommand extends CommandBase {
  kind: 'cmd';
  cmdLine: string[];
  prependShell: boolean;
  files: ShellInlineFile[];
}

export interface EntrypointCommand extends CommandBase {
  kind: 'entrypoint';
  /** Null for `ENTRYPOINT []`, which clears the entrypoint. */
  cmdLine: string[] | null;
  prependShell: boolean;
  files: ShellInlineFile[];
}

export interface LabelCommand extends CommandBase {
  kind: 'label';
  labels: KeyValuePair[];
}

export interface MaintainerCommand extends CommandBase {
  kind: 'maintainer';
  maintainer: string;
}

export interface ExposeCommand extends CommandBase {
  kind: 'expose';
  /** Port words as written, sorted as BuildKit sorts them. */
  ports: string[];
}

export interface EnvCommand extends CommandBase {
  kind: 'env';
  env: KeyValuePair[];
}

/** Fields shared by ADD and COPY. */
export interface SourcesAndDest {
  /** File sources (paths, globs, URLs, git refs). */
  sourcePaths: string[];
  /** Heredoc sources. */
  sourceContents: SourceContent[];
  destPath: string;
  chown: string;
  chmod: string;
  link: boolean;
  excludePatterns: string[];
}

export interface AddCommand extends CommandBase, SourcesAndDest {
  kind: 'add';
  /** `--keep-git-dir`, undefined when not written. */
  keepGitDir?: boolean;
  checksum: string;
  /** `--unpack`, undefined when not written (local archives unpack, URLs do not). */
  unpack?: boolean;
}

export interface CopyCommand extends CommandBase, SourcesAndDest {
  kind: 'copy';
  /** `--from`: a stage name, stage index, image or named context; "" for the build context. */
  from: string;
  parents: boolean;
}

export interface VolumeCommand extends CommandBase {
  kind: 'volume';
  volumes: string[];
}

export interface UserCommand extends CommandBase {
  kind: 'user';
  user: string;
}

export interface WorkdirCommand extends CommandBase {
  kind: 'workdir';
  path: string;
}

export interface ArgCommand extends CommandBase {
  kind: 'arg';
  args: ArgDefinition[];
}

export interface OnbuildCommand extends CommandBase {
  kind: 'onbuild';
  /** The trigger's text (heredoc bodies appended), parsed again in the child build. */
  expression: string;
  /** The trigger as parsed here. */
  trigger: InstructionNode;
}

export interface StopsignalCommand extends CommandBase {
  kind: 'stopsignal';
  signal: string;
}

/** Docker's HealthcheckConfig; durations in nanoseconds, 0 meaning the default. */
export interface HealthConfig {
  /** `["NONE"]`, `["CMD", ...argv]` or `["CMD-SHELL", command]`. */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

export interface HealthcheckCommand extends CommandBase {
  kind: 'healthcheck';
  health: HealthConfig;
}

export interface ShellCommand extends CommandBase {
  kind: 'shell';
  shell: string[];
}

/** Every instruction inside a stage (FROM starts a stage instead). */
export type Command =
  | RunCommand
  | CmdCommand
  | EntrypointCommand
  | LabelCommand
  | MaintainerCommand
  | ExposeCommand
  | EnvCommand
  | AddCommand
  | CopyCommand
  | VolumeCommand
  | UserCommand
  | WorkdirCommand
  | ArgCommand
  | OnbuildCommand
  | StopsignalCommand
  | HealthcheckCommand
  | ShellCommand;

/** Any parsed instruction. */
export type Instruction = Command | FromCommand;

/** A build stage: its FROM and the instructions up to the next FROM (BuildKit's Stage). */
export interface Stage {
  /** Lowercased name from `AS name`; "" when unnamed (then refer to it by `index`). */
  name: string;
  /** 0-based position among the stages. */
  index: number;
  /** The base image or stage word, unexpanded. */
  baseName: string;
  /** `--platform` as written; "" when absent. */
  platform: string;
  /** The FROM word as written (`FROM`, `from`). */
  origCmd: string;
  /** The FROM instruction's text. */
  sourceCode: string;
  /** The FROM line(s). */
  range: SourceRange;
  /** From the FROM line to the stage's last instruction. */
  fullRange: SourceRange;
  comments: string[];
  docComment: string;
  from: FromCommand;
  commands: Command[];
}
