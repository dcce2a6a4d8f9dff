/**
 * `RUN --mount` and `RUN --device` values, parsed as BuildKit parses them
 * (instructions/commands_runmount.go, commands_rundevice.go), with its messages and
 * suggestions. Without an expander only `from` is checked (other options may hold variables and
 * are read when the instruction runs); with one, every option is expanded and checked.
 */

import { goQuote } from '../parser/go-quote.ts';
import type { CacheSharing, Device, Mount, MountType } from './commands.ts';
import { withSuggestion } from './flags.ts';
import { csvFields, GoValueError, parseGoBool, parseGoUint, ramInBytes } from './go-values.ts';

/** A `--mount` or `--device` value BuildKit would refuse. */
export class MountError extends Error {}

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING_MODES: readonly CacheSharing[] = ['shared', 'private', 'locked'];
const MOUNT_KEYS = [
  'type',
  'from',
  'source',
  'target',
  'readonly',
  'id',
  'sharing',
  'required',
  'size',
  'mode',
  'uid',
  'gid',
  'src',
  'dst',
  'destination',
  'ro',
  'rw',
  'readwrite',
  'env',
];

/** Expands one option value (BuildKit's SingleWordExpander). */
export type WordExpander = (word: string) => string;

function cut(field: string): [string, string, boolean] {
  const eq = field.indexOf('=');
  return eq < 0 ? [field, '', false] : [field.slice(0, eq), field.slice(eq + 1), true];
}

function boolOption(key: string, value: string): boolean {
  try {
    return parseGoBool(value);
  } catch {
    throw new MountError(`invalid value for ${key}: ${value}`);
  }
}

/**
 * Parses one `--mount` value.
 *
 * @example
 * parseMount('type=cache,target=/root/.cache,sharing=locked', (w) => w);
 * // { type: 'cache', target: '/root/.cache', cacheSharing: 'locked', readOnly: false, ... }
 */
export function parseMount(value: string, expander?: WordExpander): Mount {
  let fields: string[];
  try {
    fields = csvFields(value);
  } catch (error) {
    throw new MountError(`failed to parse csv mounts: ${(error as Error).message}`);
  }
  const m: Mount = {
    type: 'bind',
    from: '',
    source: '',
    target: '',
    readOnly: false,
    sizeLimit: 0,
    cacheId: '',
    cacheSharing: '',
    required: false,
  };
  let roAuto = true;

  for (const field of fields) {
    let [key, optionValue, hasValue] = cut(field);
    key = key.toLowerCase();
    if (!hasValue) {
      if (expander === undefined) continue; // read when the instruction runs
      if (key === 'readonly' || key === 'ro') {
        m.readOnly = true;
        roAuto = false;
        continue;
      }
      if (key === 'readwrite' || key === 'rw') {
        m.readOnly = false;
        roAuto = false;
        continue;
      }
      if (key === 'required') {
        if (m.type === 'secret' || m.type === 'ssh') {
          m.required = true;
          continue;
        }
        throw new MountError(`unexpected key '${key}' for mount type '${m.type}'`);
      }
      throw new MountError(`invalid field '${field}' must be a key=value pair`);
    }

    if (expander !== undefined) {
      optionValue = expander(optionValue);
    } else if (key === 'from') {
      const dollar = optionValue.indexOf('$');
      if (dollar !== -1 && dollar !== optionValue.length - 1) {
        throw new MountError(`'${key}' doesn't support variable expansion, define alias stage instead`);
      }
    } else {
      continue;
    }

    switch (key) {
      case 'type': {
        const type = optionValue.toLowerCase() as MountType;
        if (!MOUNT_TYPES.includes(type)) {
          throw new MountError(
            withSuggestion(`unsupported mount type ${goQuote(optionValue)}`, optionValue, MOUNT_TYPES),
          );
        }
        m.type = type;
        break;
      }
      case 'from':
        m.from = optionValue;
        break;
      case 'source':
      case 'src':
        m.source = optionValue;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = optionValue;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = boolOption(key, optionValue);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !boolOption(key, optionValue);
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') {
          throw new MountError(`unexpected key '${key}' for mount type '${m.type}'`);
        }
        m.required = boolOption(key, optionValue);
        break;
      case 'size':
        if (m.type !== 'tmpfs') throw new MountError(`unexpected key '${key}' for mount type '${m.type}'`);
        try {
          m.sizeLimit = ramInBytes(optionValue);
        } catch {
          throw new MountError(`invalid value for ${key}: ${optionValue}`);
        }
        break;
      case 'id':
        m.cacheId = optionValue;
        break;
      case 'sharing': {
        const sharing = optionValue.toLowerCase() as CacheSharing;
        if (!SHARING_MODES.includes(sharing)) {
          throw new MountError(
            withSuggestion(`unsupported sharing value ${goQuote(optionValue)}`, optionValue, SHARING_MODES),
          );
        }
        m.cacheSharing = sharing;
        break;
      }
      case 'mode':
        m.mode = uintOption('mode', optionValue, 8);
        break;
      case 'uid':
        m.uid = uintOption('uid', optionValue, 10);
        break;
      case 'gid':
        m.gid = uintOption('gid', optionValue, 10);
        break;
      case 'env':
        m.env = optionValue;
        break;
      default:
        throw new MountError(withSuggestion(`unexpected key '${key}' in '${field}'`, key, MOUNT_KEYS));
    }
  }

  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  if (!fileInfoAllowed) {
    if (m.mode !== undefined) throw new MountError(`mode not allowed for ${goQuote(m.type)} type mounts`);
    if (m.uid !== undefined) throw new MountError(`uid not allowed for ${goQuote(m.type)} type mounts`);
    if (m.gid !== undefined) throw new MountError(`gid not allowed for ${goQuote(m.type)} type mounts`);
  }
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from !== '') throw new MountError('secret mount should not have a from');
    if (m.cacheSharing !== '') throw new MountError('secret mount should not define sharing');
    if (m.source === '' && m.target === '' && m.cacheId === '') {
      throw new MountError('invalid secret mount. one of source, target required');
    }
    if (m.source !== '' && m.cacheId !== '') throw new MountError("both source and id can't be set");
  }
  if (m.cacheSharing !== '' && m.type !== 'cache')
    throw new MountError(`invalid cache sharing set for ${m.type} mount`);
  return m;
}

function uintOption(key: string, value: string, base: number): number {
  try {
    return parseGoUint(value, base, 32);
  } catch (error) {
    if (error instanceof GoValueError) throw new MountError(`invalid value ${value} for ${key}`);
    throw error;
  }
}

/**
 * Parses one `--device` value: `name[,required[=bool]]` or `name=x,...`.
 *
 * @example
 * parseDevice('vendor.com/gpu=all,required'); // { name: 'vendor.com/gpu=all', required: true }
 */
export function parseDevice(value: string): Device {
  let fields: string[];
  try {
    fields = csvFields(value);
  } catch (error) {
    throw new MountError(`failed to parse csv devices: ${(error as Error).message}`);
  }
  const device: Device = { name: '', required: false };
  for (const field of fields) {
    let [key, optionValue, hasValue] = cut(field);
    key = key.toLowerCase();
    if (!hasValue) {
      if (key === 'required') {
        device.required = true;
        continue;
      }
      if (device.name === '') {
        device.name = field;
        continue;
      }
      throw new MountError(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'name':
        if (device.name !== '') throw new MountError(`device name already set to ${device.name}`);
        device.name = optionValue;
        break;
      case 'required':
        device.required = boolOption(key, optionValue);
        break;
      default:
        if (device.name === '') {
          device.name = field;
          continue;
        }
        throw new MountError(
          withSuggestion(`unexpected key '${key}' in '${field}'`, key, ['name', 'required']),
        );
    }
  }
  return device;
}
