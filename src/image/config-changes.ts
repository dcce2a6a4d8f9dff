/**
 * Dockerfile-style changes (`wharf import -c`, `commit -c`) applied to an image's container
 * config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. A small
 * parser of its own (src/image may not import the Dockerfile front end): JSON (exec) or shell
 * form, `key=value` pairs with quotes and backslash escapes, `$VAR`/`${VAR}`/`${VAR:-x}`/`${VAR:+x}`
 * expansion against the image's environment, as Docker's builder does for these instructions.
 *
 * @example
 * const config = applyConfigChanges({}, ['ENV PATH=/bin', 'CMD ["sh"]', 'WORKDIR /app']);
 * // { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/app' }
 */
import { posix } from 'node:path';
import { InvalidArgumentError } from '../errors/index.ts';
import type { ContainerConfig } from '../oci/image-config.ts';

export const CHANGE_INSTRUCTIONS = [
  'CMD',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'LABEL',
  'ONBUILD',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
] as const;

function fail(change: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`Cannot apply change "${change}": ${reason}`);
}

/** One word after quote removal and expansion. */
interface Word {
  text: string;
}

/**
 * Splits `input` into words as Docker's shell lexer does for these instructions: whitespace
 * separates, quotes group (no expansion inside single quotes), backslash escapes the next
 * character (outside single quotes), and `$VAR` expands from `env`.
 */
export function splitWords(input: string, env: ReadonlyMap<string, string>, change = input): Word[] {
  const words: Word[] = [];
  let current = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // at a '$'
    const next = input[i + 1];
    if (next === '{') {
      const close = input.indexOf('}', i + 2);
      if (close < 0) throw fail(change, `missing } in \${${input.slice(i + 2)}`);
      const body = input.slice(i + 2, close);
      i = close + 1;
      const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?$/s.exec(body);
      if (!match) throw fail(change, `bad substitution \${${body}}`);
      const [, name, op, word] = match as unknown as [string, string, string | undefined, string | undefined];
      const value = env.get(name);
      if (op === '-') return value ? value : (word ?? '');
      if (op === '+') return value ? (word ?? '') : '';
      return value ?? '';
    }
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(i + 1));
    if (!match) {
      i++;
      return '$';
    }
    i += 1 + match[0].length;
    return env.get(match[0]) ?? '';
  };
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      if (inWord) {
        words.push({ text: current });
        current = '';
        inWord = false;
      }
      i++;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      if (i + 1 < input.length) current += input[i + 1];
      i += 2;
    } else if (c === "'") {
      const close = input.indexOf("'", i + 1);
      if (close < 0)
        throw fail(change, 'unexpected end of statement while looking for matching single-quote');
      current += input.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      while (i < input.length && input[i] !== '"') {
        if (input[i] === '\\' && i + 1 < input.length && '"\\$'.includes(input[i + 1]!)) {
          current += input[i + 1];
          i += 2;
        } else if (input[i] === '$') {
          current += expand();
        } else {
          current += input[i];
          i++;
        }
      }
      if (i >= input.length)
        throw fail(change, 'unexpected end of statement while looking for matching double-quote');
      i++;
    } else if (c === '$') {
      current += expand();
    } else {
      current += c;
      i++;
    }
  }
  if (inWord) words.push({ text: current });
  return words;
}

/** `["a", "b"]` when `args` is a JSON array of strings, else undefined (shell form). */
function parseJsonForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(args);
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  } catch {
    // not JSON: shell form, as Docker falls back
  }
  return undefined;
}

function envMap(config: ContainerConfig): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of config.Env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return map;
}

/** Parses `k=v k2="v 2"` pairs, or the legacy `KEY value with spaces` form when `legacy` allows it. */
function parsePairs(
  instruction: string,
  args: string,
  env: ReadonlyMap<string, string>,
  change: string,
): Array<[string, string]> {
  const words = splitWords(args, env, change);
  if (words.length === 0) throw fail(change, `${instruction} requires at least one argument`);
  const first = args.trim().split(/\s+/, 1)[0]!;
  if (!first.includes('=')) {
    // legacy `ENV KEY value…`: the key is the first word, the value the rest
    const rest = args.trim().slice(first.length).trim();
    if (!rest) throw fail(change, `${instruction} must have two arguments`);
    const value = splitWords(rest, env, change)
      .map((w) => w.text)
      .join(' ');
    return [[splitWords(first, env, change)[0]?.text ?? first, value]];
  }
  return words.map((word) => {
    const eq = word.text.indexOf('=');
    if (eq <= 0) throw fail(change, `${instruction} names can not be blank`);
    return [word.text.slice(0, eq), word.text.slice(eq + 1)];
  });
}

function expandPorts(spec: string, change: string): string[] {
  const match = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!match) throw fail(change, `invalid containerPort: ${spec}`);
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  const proto = (match[3] ?? 'tcp').toLowerCase();
  if (start < 1 || end > 65535 || end < start) throw fail(change, `invalid port range: ${spec}`);
  const out: string[] = [];
  for (let port = start; port <= end; port++) out.push(`${port}/${proto}`);
  return out;
}

/**
 * Applies `changes` in order to a copy of `config` and returns it. Throws InvalidArgumentError
 * naming the change for unknown instructions and malformed arguments.
 */
export function applyConfigChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const out: ContainerConfig = structuredClone(config);
  let cmdSet = false;
  for (const raw of changes) {
    for (const change of raw.split(/\r?\n/).filter((line) => line.trim() && !line.trim().startsWith('#'))) {
      const trimmed = change.trim();
      const space = trimmed.search(/\s/);
      const instruction = (space < 0 ? trimmed : trimmed.slice(0, space)).toUpperCase();
      const args = space < 0 ? '' : trimmed.slice(space).trim();
      if (!(CHANGE_INSTRUCTIONS as readonly string[]).includes(instruction)) {
        throw fail(trimmed, `${instruction} is not a valid change command`);
      }
      const env = envMap(out);
      const words = () => splitWords(args, env, trimmed).map((w) => w.text);
      switch (instruction) {
        case 'CMD':
        case 'ENTRYPOINT': {
          const json = parseJsonForm(args);
          const shell = out.Shell && out.Shell.length > 0 ? out.Shell : ['/bin/sh', '-c'];
          const value = json ?? (args ? [...shell, args] : []);
          if (instruction === 'CMD') {
            out.Cmd = value;
            cmdSet = true;
          } else {
            out.Entrypoint = value;
            // as the builder does: a new entrypoint drops an inherited CMD
            if (!cmdSet) out.Cmd = null;
          }
          if (!json && args) out.ArgsEscaped = true;
          break;
        }
        case 'ENV': {
          const envList = [...(out.Env ?? [])];
          for (const [key, value] of parsePairs('ENV', args, env, trimmed)) {
            const index = envList.findIndex((entry) => entry.split('=', 1)[0] === key);
            if (index >= 0) envList[index] = `${key}=${value}`;
            else envList.push(`${key}=${value}`);
          }
          out.Env = envList;
          break;
        }
        case 'LABEL': {
          const labels = { ...(out.Labels ?? {}) };
          for (const [key, value] of parsePairs('LABEL', args, env, trimmed)) labels[key] = value;
          out.Labels = labels;
          break;
        }
        case 'EXPOSE': {
          const ports = { ...(out.ExposedPorts ?? {}) };
          const list = words();
          if (list.length === 0) throw fail(trimmed, 'EXPOSE requires at least one argument');
          for (const spec of list) for (const port of expandPorts(spec, trimmed)) ports[port] = {};
          out.ExposedPorts = ports;
          break;
        }
        case 'VOLUME': {
          const volumes = { ...(out.Volumes ?? {}) };
          const list = parseJsonForm(args) ?? words();
          if (list.length === 0) throw fail(trimmed, 'VOLUME requires at least one argument');
          for (const path of list) {
            if (!path.trim()) throw fail(trimmed, 'VOLUME specified can not be an empty string');
            volumes[path] = {};
          }
          out.Volumes = volumes;
          break;
        }
        case 'WORKDIR': {
          const list = words();
          if (list.length !== 1) throw fail(trimmed, 'WORKDIR requires exactly one argument');
          const dir = list[0]!;
          out.WorkingDir = posix.isAbsolute(dir)
            ? posix.normalize(dir)
            : posix.join(out.WorkingDir || '/', dir);
          break;
        }
        case 'USER': {
          const list = words();
          if (list.length !== 1) throw fail(trimmed, 'USER requires exactly one argument');
          out.User = list[0]!;
          break;
        }
        case 'STOPSIGNAL': {
          const list = words();
          if (list.length !== 1) throw fail(trimmed, 'STOPSIGNAL requires exactly one argument');
          const signal = list[0]!;
          if (!/^(?:SIG)?[A-Z0-9+-]+$|^\d+$/i.test(signal)) throw fail(trimmed, `invalid signal: ${signal}`);
          out.StopSignal = signal;
          break;
        }
        case 'ONBUILD': {
          if (!args) throw fail(trimmed, 'ONBUILD requires at least one argument');
          const inner = args.split(/\s/, 1)[0]!.toUpperCase();
          if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(inner)) {
            throw fail(trimmed, `${inner} isn't allowed as an ONBUILD trigger`);
          }
          out.OnBuild = [...(out.OnBuild ?? []), args];
          break;
        }
      }
    }
  }
  return out;
}
