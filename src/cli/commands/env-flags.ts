/**
 * Docker's environment flags, shared by `run`, `create` and `exec`: repeatable values
 * (`collect`), `-e NAME=VALUE` or `-e NAME` (from this process's environment), and `--env-file`
 * (also `--label-file`) files.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../../errors/index.ts';

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `-e KEY=VALUE`, or `-e KEY` (taken from this environment, dropped when unset). */
export function parseEnvValue(value: string): string | undefined {
  if (value.includes('=')) {
    if (value.startsWith('=')) throw new InvalidArgumentError(`invalid environment variable: ${value}`);
    return value;
  }
  const fromHost = process.env[value];
  return fromHost === undefined ? undefined : `${value}=${fromHost}`;
}

/** How Go's os.Open / Read name an errno, for docker/cli's own words. */
const GO_ERRNO: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
};

/**
 * Docker's env-file / label-file format (docker/cli's kvfile.Parse): KEY=VALUE or KEY lines
 * (KEY taken from this environment when `fromEnvironment`, dropped when unset or in a label
 * file), `#` comments,
 * blank lines, leading whitespace and a UTF-8 BOM dropped. A file that cannot be opened is
 * `open PATH: <reason>`; one that cannot be read or parsed is `invalid env file (PATH): <reason>`
 * (the words docker uses for --label-file too).
 *
 * @example
 * readKeyValueFile('.env', true); // ['A=1', 'HOME=/root']
 */
export function readKeyValueFile(path: string, fromEnvironment: boolean): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const reason = GO_ERRNO[code] ?? (error instanceof Error ? error.message : String(error));
    // os.Open succeeds on a directory; the first read is what fails.
    const message =
      code === 'EISDIR' ? `invalid env file (${path}): read ${path}: ${reason}` : `open ${path}: ${reason}`;
    throw new InvalidArgumentError(message, { cause: error });
  }
  const invalid = (reason: string) => new InvalidArgumentError(`invalid env file (${path}): ${reason}`);
  const out: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    const key = equals < 0 ? line : line.slice(0, equals);
    if (key === '') throw invalid(`no variable name on line '${line}'`);
    if (/[ \t]/.test(key)) throw invalid(`variable '${key}' contains whitespaces`);
    if (equals >= 0) out.push(line);
    else if (fromEnvironment) {
      const value = process.env[key];
      if (value !== undefined) out.push(`${key}=${value}`);
    }
    // a bare KEY in a label file has nothing to look up: docker drops it
  }
  return out;
}
