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

/** Docker's env-file / label-file format: KEY=VALUE or KEY lines, `#` comments, blank lines. */
export function readKeyValueFile(path: string, fromEnvironment: boolean): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`open ${path}: no such file or directory`, { cause: error });
  }
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    if (line.includes('=')) {
      out.push(line);
      continue;
    }
    if (!fromEnvironment) out.push(line);
    else {
      const value = process.env[line.trim()];
      if (value !== undefined) out.push(`${line.trim()}=${value}`);
    }
  }
  return out;
}
