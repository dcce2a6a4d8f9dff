/**
 * Docker's ways of asking for mounts, parsed into one shape (the Engine API's `Mount`):
 *
 * - `-v NAME:/path[:MODE]`, `-v /host:/path[:MODE]` (HostConfig.Binds) and `-v /path` (an
 *   anonymous volume: Config.Volumes), MODE a comma list of `ro|rw`, `z|Z`, a propagation
 *   (`shared`, `rslave`...), `nocopy`, a consistency (`cached`...): moby's `ParseMountRaw`;
 * - `--mount type=volume|bind|tmpfs,src=,dst=,readonly,volume-opt=k=v,volume-label=,
 *   volume-nocopy,volume-driver=,bind-propagation=,bind-recursive=,tmpfs-size=,tmpfs-mode=`
 *   (HostConfig.Mounts): docker/cli's `opts.MountOpt`;
 * - `--tmpfs /path[:OPTIONS]` (HostConfig.Tmpfs): size= and mode= become the mount's, the rest
 *   are mount options after Docker's `noexec,nosuid,nodev`;
 * - `--volumes-from CONTAINER[:ro|rw]`: moby's `ParseVolumesFrom`.
 *
 * Messages are Docker's (`invalid volume specification: '…'`, `invalid mode: …`).
 *
 * @example
 * parseBind('data:/var/lib/data:ro'); // { Type: 'volume', Source: 'data', Target: '/var/lib/data', ReadOnly: true, ... }
 * parseMountFlag('type=tmpfs,dst=/run,tmpfs-size=64m'); // { Type: 'tmpfs', Target: '/run', TmpfsOptions: { SizeBytes: 67108864 } }
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { InvalidArgumentError } from '../../errors/index.ts';

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
export const PROPAGATIONS: readonly Propagation[] = [
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
];

/** The Engine API's `Mount` (HostConfig.Mounts), the fields Wharf uses. */
export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name (volume; empty: anonymous), nothing (tmpfs). */
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: Propagation;
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
  };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
    Subpath?: string;
  };
  TmpfsOptions?: {
    SizeBytes?: number;
    Mode?: number;
  };
}

/** A parsed `-v` (or Binds entry): the spec, and the mode text as given (Docker's MountPoint.Mode). */
export interface ParsedBind {
  spec: MountSpec;
  mode: string;
}

const RW_MODES = ['rw', 'ro'];
const LABEL_MODES = ['z', 'Z'];
const COPY_MODES = ['nocopy'];
const CONSISTENCY_MODES = ['consistent', 'cached', 'delegated'];

function invalidSpec(raw: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid volume specification: '${raw}'`);
}

/** moby's ValidMountMode: each kind at most once. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = { rw: 0, label: 0, propagation: 0, copy: 0, consistency: 0 };
  for (const part of mode.split(',')) {
    if (RW_MODES.includes(part)) counts.rw++;
    else if (LABEL_MODES.includes(part)) counts.label++;
    else if ((PROPAGATIONS as readonly string[]).includes(part)) counts.propagation++;
    else if (COPY_MODES.includes(part)) counts.copy++;
    else if (CONSISTENCY_MODES.includes(part)) counts.consistency++;
    else return false;
  }
  return Object.values(counts).every((count) => count <= 1);
}

function modeParts(mode: string): string[] {
  return mode === '' ? [] : mode.split(',');
}

/**
 * Parses a `-v` value or a HostConfig.Binds entry (moby's ParseMountRaw for Linux): SOURCE:DEST
 * with an optional mode; an absolute SOURCE is a bind, anything else a volume name.
 */
export function parseBind(raw: string): ParsedBind {
  const parts = raw.split(':');
  if (parts[0] === '' || parts.length > 3) throw invalidSpec(raw);
  let source = '';
  let target: string;
  let mode = '';
  if (parts.length === 1) target = parts[0]!;
  else if (parts.length === 2) {
    if (validMountMode(parts[1]!)) throw invalidSpec(raw); // `/foo:rw`: a volume cannot have a mode alone
    [source, target] = [parts[0]!, parts[1]!];
  } else [source, target, mode] = [parts[0]!, parts[1]!, parts[2]!];
  if (!validMountMode(mode)) throw new InvalidArgumentError(`invalid mode: ${mode}`);
  const flags = modeParts(mode);
  const spec: MountSpec = { Type: isAbsolute(source) ? 'bind' : 'volume', Target: target };
  if (source !== '') spec.Source = source;
  spec.ReadOnly = flags.includes('ro');
  if (flags.includes('nocopy')) spec.VolumeOptions = { NoCopy: true };
  const propagation = flags.find((flag) => (PROPAGATIONS as readonly string[]).includes(flag)) as
    | Propagation
    | undefined;
  if (propagation) spec.BindOptions = { Propagation: propagation };
  const consistency = flags.find((flag) => CONSISTENCY_MODES.includes(flag));
  if (consistency) spec.Consistency = consistency;
  try {
    validateMountSpec(spec, { bindSourceMustExist: false });
  } catch (error) {
    throw new InvalidArgumentError(`invalid volume specification: '${raw}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { spec, mode };
}

/** Docker's volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`. */
export const VOLUME_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkVolumeName(name: string): void {
  if (!VOLUME_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** moby's validateMountConfig for Linux (the checks that need no file system unless asked). */
export function validateMountSpec(
  spec: MountSpec,
  options: { bindSourceMustExist: boolean; exists?: (path: string) => boolean },
): void {
  const fail = (reason: string) =>
    new InvalidArgumentError(`invalid mount config for type "${spec.Type}": ${reason}`);
  if (!spec.Target) throw fail('field Target must not be empty');
  if (!isAbsolute(spec.Target))
    throw fail(`invalid mount path: '${spec.Target}' mount path must be absolute`);
  if (spec.Target.split('/').filter(Boolean).length === 0)
    throw fail(`invalid specification: destination can't be '/'`);
  switch (spec.Type) {
    case 'bind':
      if (!spec.Source) throw fail('field Source must not be empty');
      if (!isAbsolute(spec.Source))
        throw fail(`invalid mount path: '${spec.Source}' mount path must be absolute`);
      if (spec.VolumeOptions) throw fail('field VolumeOptions must not be specified');
      if (spec.TmpfsOptions) throw fail('field TmpfsOptions must not be specified');
      if (options.bindSourceMustExist && options.exists && !options.exists(spec.Source)) {
        throw fail(`bind source path does not exist: ${spec.Source}`);
      }
      break;
    case 'volume':
      if (spec.BindOptions) throw fail('field BindOptions must not be specified');
      if (spec.TmpfsOptions) throw fail('field TmpfsOptions must not be specified');
      if (spec.Source) checkVolumeName(spec.Source);
      if (spec.VolumeOptions?.Subpath) throw fail('volume subpaths are not supported');
      break;
    case 'tmpfs':
      if (spec.Source) throw fail('field Source must not be specified');
      if (spec.BindOptions) throw fail('field BindOptions must not be specified');
      if (spec.VolumeOptions) throw fail('field VolumeOptions must not be specified');
      if (spec.TmpfsOptions?.SizeBytes !== undefined && spec.TmpfsOptions.SizeBytes < 0) {
        throw fail('invalid tmpfs size');
      }
      break;
    default:
      throw new InvalidArgumentError(
        `invalid mount config: mount type unknown: "${(spec as { Type: string }).Type}"`,
      );
  }
}

/** docker/cli's RAMInBytes: `64m`, `1g`, `512k`, `100` (binary units). */
export function parseRamBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`invalid size: '${text}'`);
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[
    match[2]!.toLowerCase() as 'b'
  ];
  return Math.floor(Number(match[1]) * unit);
}

/** Splits a `--mount` value as Go's encoding/csv does (quotes group, `""` escapes a quote). */
function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  if (quoted)
    throw new InvalidArgumentError(
      `invalid argument "${text}" for "--mount" flag: extraneous or missing " in quoted-field`,
    );
  fields.push(field);
  return fields;
}

function parseBool(text: string, flagText: string, key: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  throw new InvalidArgumentError(
    `invalid argument "${flagText}" for "--mount" flag: invalid value for ${key}: ${text}`,
  );
}

/** Parses one `--mount` flag value (docker/cli's MountOpt.Set). */
export function parseMountFlag(value: string): MountSpec {
  const fail = (reason: string) =>
    new InvalidArgumentError(`invalid argument "${value}" for "--mount" flag: ${reason}`);
  const spec: MountSpec = { Type: 'volume', Target: '' };
  const volume = (): NonNullable<MountSpec['VolumeOptions']> => (spec.VolumeOptions ??= {});
  const bind = (): NonNullable<MountSpec['BindOptions']> => (spec.BindOptions ??= {});
  const tmpfs = (): NonNullable<MountSpec['TmpfsOptions']> => (spec.TmpfsOptions ??= {});
  let typeSet: string | undefined;
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const val = eq < 0 ? undefined : field.slice(eq + 1);
    if (val === undefined) {
      // Boolean keys may stand alone.
      if (key === 'readonly' || key === 'ro') spec.ReadOnly = true;
      else if (key === 'volume-nocopy') volume().NoCopy = true;
      else if (key === 'bind-nonrecursive') bind().NonRecursive = true;
      else throw fail(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type':
        if (val !== 'bind' && val !== 'volume' && val !== 'tmpfs') throw fail(`invalid mount type: "${val}"`);
        typeSet = val;
        spec.Type = val;
        break;
      case 'source':
      case 'src':
        spec.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        spec.Target = val;
        break;
      case 'readonly':
      case 'ro':
        spec.ReadOnly = parseBool(val, value, key);
        break;
      case 'consistency':
        spec.Consistency = val;
        break;
      case 'bind-propagation':
        if (!(PROPAGATIONS as readonly string[]).includes(val))
          throw fail(`invalid bind-propagation: "${val}"`);
        bind().Propagation = val as Propagation;
        break;
      case 'bind-nonrecursive':
        bind().NonRecursive = parseBool(val, value, key);
        break;
      case 'bind-recursive':
        if (val === 'enabled') bind().NonRecursive = false;
        else if (val === 'disabled') bind().NonRecursive = true;
        else throw fail(`invalid value for bind-recursive: "${val}" (Wharf supports enabled and disabled)`);
        break;
      case 'bind-create-mountpoint':
        bind().CreateMountpoint = parseBool(val, value, key);
        break;
      case 'volume-nocopy':
        volume().NoCopy = parseBool(val, value, key);
        break;
      case 'volume-label': {
        const labelEq = val.indexOf('=');
        volume().Labels = {
          ...(volume().Labels ?? {}),
          [labelEq < 0 ? val : val.slice(0, labelEq)]: labelEq < 0 ? '' : val.slice(labelEq + 1),
        };
        break;
      }
      case 'volume-driver':
        volume().DriverConfig = { ...(volume().DriverConfig ?? {}), Name: val };
        break;
      case 'volume-opt': {
        const optEq = val.indexOf('=');
        if (optEq < 0) throw fail(`invalid volume-opt '${val}': must be a key=value pair`);
        const driver = (volume().DriverConfig ??= {});
        driver.Options = { ...(driver.Options ?? {}), [val.slice(0, optEq)]: val.slice(optEq + 1) };
        break;
      }
      case 'volume-subpath':
        volume().Subpath = val;
        break;
      case 'tmpfs-size':
        tmpfs().SizeBytes = parseRamBytes(val);
        break;
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val)) throw fail(`invalid value for ${key}: ${val}`);
        tmpfs().Mode = Number.parseInt(val, 8);
        break;
      }
      default:
        throw fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (spec.Target === '') throw fail('target is required');
  const type = typeSet ?? 'volume';
  if (spec.VolumeOptions && type !== 'volume')
    throw fail(`cannot mix 'volume-*' options with mount type '${type}'`);
  if (spec.BindOptions && type !== 'bind')
    throw fail(`cannot mix 'bind-*' options with mount type '${type}'`);
  if (spec.TmpfsOptions && type !== 'tmpfs')
    throw fail(`cannot mix 'tmpfs-*' options with mount type '${type}'`);
  if (type === 'bind' && spec.Source && !isAbsolute(spec.Source) && spec.Source.startsWith('.')) {
    spec.Source = resolvePath(spec.Source); // docker/cli makes `./dir` absolute
  }
  return spec;
}

/** A parsed `--tmpfs` entry (the value of HostConfig.Tmpfs[path]). */
export interface TmpfsOptions {
  size?: number;
  mode?: number;
  /** Mount options after Docker's defaults (`noexec,nosuid,nodev`), as given. */
  options: string[];
}

/** Parses HostConfig.Tmpfs's value for one path: `size=64m,mode=1777,exec`. */
export function parseTmpfsOptions(text: string): TmpfsOptions {
  const out: TmpfsOptions = { options: [] };
  for (const option of text.split(',').filter(Boolean)) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? '' : option.slice(eq + 1);
    if (key === 'size') out.size = parseRamBytes(value);
    else if (key === 'mode') {
      if (!/^[0-7]+$/.test(value)) throw new InvalidArgumentError(`invalid tmpfs mode: ${value}`);
      out.mode = Number.parseInt(value, 8);
    } else out.options.push(option);
  }
  return out;
}

/** moby's ParseVolumesFrom: `CONTAINER[:ro|rw]`. */
export function parseVolumesFrom(spec: string): { container: string; mode: string } {
  if (spec === '') throw new InvalidArgumentError('volume-from specification cannot be an empty string');
  const parts = spec.split(':');
  if (parts.length > 2 || parts[0] === '')
    throw new InvalidArgumentError(`invalid volume specification: '${spec}'`);
  const mode = parts[1] ?? 'rw';
  if (!validMountMode(mode)) throw new InvalidArgumentError(`invalid mode: ${mode}`);
  if (modeParts(mode).some((part) => (PROPAGATIONS as readonly string[]).includes(part))) {
    throw new InvalidArgumentError(`invalid mode: ${mode}: propagation is not allowed in volumes-from`);
  }
  return { container: parts[0]!, mode };
}

/** What `-v`, `--mount` and `--volumes-from` put in a create request (docker/cli's split). */
export interface VolumeFlagFields {
  /** HostConfig.Binds: every `-v` with a source (`./dir` made absolute). */
  binds: string[];
  /** Config.Volumes: every `-v /path` without a source (anonymous volumes). */
  volumes: Record<string, Record<string, never>>;
  /** HostConfig.Mounts. */
  mounts: MountSpec[];
  /** HostConfig.VolumesFrom. */
  volumesFrom: string[];
}

/**
 * The create request's fields for the CLI's `-v`, `--mount` and `--volumes-from` values, checked
 * as docker/cli checks them (the daemon side checks again when the container is created).
 *
 * @example
 * const fields = volumeFlagFields({ volume: ['data:/data', '/cache'], mount: [], volumesFrom: [] });
 * hostConfig.Binds = fields.binds; config.Volumes = fields.volumes;
 */
export function volumeFlagFields(flags: {
  volume?: readonly string[];
  mount?: readonly string[];
  volumesFrom?: readonly string[];
}): VolumeFlagFields {
  const out: VolumeFlagFields = { binds: [], volumes: {}, mounts: [], volumesFrom: [] };
  for (const raw of flags.volume ?? []) {
    let bind = raw;
    const colon = raw.indexOf(':');
    if (raw.startsWith('.') && colon > 0) {
      // docker/cli: `./dir:/x` binds the absolute path; it is not a volume named `./dir`
      bind = `${resolvePath(raw.slice(0, colon))}${raw.slice(colon)}`;
    }
    const { spec } = parseBind(bind);
    if (spec.Source === undefined) out.volumes[spec.Target] = {};
    else out.binds.push(bind);
  }
  for (const raw of flags.mount ?? []) out.mounts.push(parseMountFlag(raw));
  for (const raw of flags.volumesFrom ?? []) {
    parseVolumesFrom(raw);
    out.volumesFrom.push(raw);
  }
  return out;
}
