/**
 * What `inspect`, `image inspect` (and later `container inspect`...) print, as Docker's
 * `cli/command/inspect` does:
 *
 * - no format: a JSON array indented by 4 spaces (`[]` when nothing was found);
 * - `--format json`: the same array on one line;
 * - a template: run once per object, each output followed by a newline (a lone newline when
 *   every object failed). The template runs first on the typed view of the object; when that
 *   fails, on the raw JSON with `missingkey=error`, whose error is the one reported.
 *
 * Objects that cannot be found are reported after the output, one `Error: ...` line each, with
 * exit code 1; a template that does not parse exits with 64 before anything is looked up.
 */
import { CliExit } from '../cli-error.ts';
import { executeFormat, FormatError, parseFormat } from './formatter.ts';
import { goJson } from './go-json.ts';

/** One object found for a reference: its API JSON and, optionally, its typed template view. */
export interface InspectResult {
  raw: unknown;
  typed?: unknown;
}

export interface InspectOptions {
  refs: readonly string[];
  /** `-f/--format`; undefined or '' for indented JSON. */
  format: string | undefined;
  /** Finds one object; throws (a WharfError) when it cannot. */
  lookup(ref: string): Promise<InspectResult>;
  stdout: NodeJS.WritableStream;
}

/** Exit code Docker uses when the inspect template does not parse. */
const BAD_TEMPLATE_EXIT = 64;

/**
 * Prints the objects `refs` name in the requested format; throws CliExit listing the failures.
 *
 * @example
 * await writeInspect({ refs: ['busybox'], format: '{{.Id}}', lookup, stdout: process.stdout });
 */
export async function writeInspect(options: InspectOptions): Promise<void> {
  const format = options.format ?? '';
  const template = format === '' || format === 'json' ? undefined : parseFormat(format, BAD_TEMPLATE_EXIT);
  const errors: string[] = [];
  const elements: unknown[] = [];
  let buffer = '';
  for (const ref of options.refs) {
    let found: InspectResult;
    try {
      found = await options.lookup(ref);
    } catch (error) {
      if (error instanceof CliExit) throw error;
      errors.push(`Error: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (!template) {
      elements.push(found.raw);
      continue;
    }
    try {
      let text: string;
      try {
        text = executeFormat(
          template,
          found.typed ?? found.raw,
          found.typed === undefined ? 'error' : 'default',
        );
      } catch (error) {
        if (!(error instanceof FormatError) || found.typed === undefined) throw error;
        // Docker's fallback: the raw JSON, where a missing key is an error.
        text = executeFormat(template, found.raw, 'error');
      }
      buffer += `${text}\n`;
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      errors.push(error.message);
    }
  }
  if (template) {
    options.stdout.write(buffer === '' ? '\n' : buffer);
  } else if (elements.length === 0) {
    options.stdout.write('[]\n');
  } else {
    // The daemon's JSON escapes <, > and & (Go's json.Marshal); the CLI keeps those escapes.
    options.stdout.write(
      `${goJson(elements, { escapeHtml: true, ...(format === '' ? { indent: '    ' } : {}) })}\n`,
    );
  }
  if (errors.length > 0) throw new CliExit(1, errors.join('\n'));
}
