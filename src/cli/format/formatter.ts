/**
 * Docker's listing formatter (`cli/command/formatter`), which every listing verb uses:
 *
 * - `--format table` (each verb substitutes its default columns), `--format 'table {{.A}}\t{{.B}}'`
 *   (a header row, then aligned columns), `--format json` (one JSON object per line),
 *   or any other Go template (one output line per item);
 * - the header row is the same template run over a map of column names
 *   (`{"ID": "IMAGE ID", ...}`) with functions that pass names through, so
 *   `table {{.ID}}\t{{.Repository | lower}}` heads its columns `IMAGE ID   REPOSITORY`;
 * - `\t` and `\n` typed literally in a format become tabs and newlines.
 *
 * Rows are made by {@link listingRow}: Go structs (an unknown field is an error, as in Docker)
 * whose JSON is the sorted, HTML-escaped map Docker's `MarshalJSON` makes.
 */
import { CliExit } from '../cli-error.ts';
import { HEADER_FUNCS, parseDockerTemplate } from './docker-template-funcs.ts';
import { goJson } from './go-json.ts';
import { type GoTemplate, type MissingKey, TemplateExecError, TemplateParseError } from './go-template.ts';
import { GO_MARSHAL_JSON, goStruct } from './go-value.ts';
import { alignColumns, DOCKER_TABLE } from './tab-writer.ts';

export const TABLE_FORMAT = 'table';
export const JSON_FORMAT = 'json';
export const DEFAULT_QUIET_FORMAT = '{{.ID}}';

/** A format that does not parse or fails on an item; the message is Docker's, shown without "Error:". */
export class FormatError extends CliExit {
  constructor(message: string, exitCode = 1) {
    super(exitCode, message);
    this.name = 'FormatError';
  }
}

/**
 * Turns a user's format into the template Docker runs: `json` is `{{json .}}`, a `table` prefix
 * goes, surrounding spaces go, and literal `\t`, `\n` become tab and newline.
 *
 * @example
 * templateText('table {{.ID}}\\t{{.Size}}'); // '{{.ID}}\t{{.Size}}'
 */
export function templateText(format: string): string {
  if (format === TABLE_FORMAT) return '';
  if (format === JSON_FORMAT) return '{{json .}}';
  const body = format.startsWith(TABLE_FORMAT) ? format.slice(TABLE_FORMAT.length) : format;
  return body
    .replace(/^ +| +$/g, '')
    .replace(/\\t/g, '\t')
    .replace(/\\n/g, '\n');
}

/** True for `table` and `table ...` formats, which get a header row and aligned columns. */
export function isTableFormat(format: string): boolean {
  return format.startsWith(TABLE_FORMAT);
}

/**
 * Parses a format as Docker does, throwing FormatError(`template parsing error: ...`).
 *
 * @example
 * const t = parseFormat('{{.Repository}}:{{.Tag}}');
 */
export function parseFormat(text: string, exitCode = 1): GoTemplate {
  try {
    return parseDockerTemplate(text);
  } catch (error) {
    if (error instanceof TemplateParseError)
      throw new FormatError(`template parsing error: ${error.message}`, exitCode);
    throw error;
  }
}

/** Runs a template, turning its failure into Docker's `template parsing error: ...`. */
export function executeFormat(
  template: GoTemplate,
  data: unknown,
  missingKey: MissingKey = 'default',
): string {
  try {
    return template.execute(data, { missingKey });
  } catch (error) {
    if (error instanceof TemplateExecError) throw new FormatError(`template parsing error: ${error.message}`);
    throw error;
  }
}

/**
 * A listing row: a Go struct named `typeName` whose fields are `fields` (in display order), and
 * whose JSON is Docker's (keys sorted, `<`/`>`/`&` escaped).
 *
 * @example
 * listingRow('*formatter.imageContext', { ID: 'f7e2b70d04ae', Repository: 'busybox', Tag: 'latest' });
 */
export function listingRow<T extends object>(typeName: string, fields: T): T {
  const row = goStruct(typeName, fields);
  Object.defineProperty(row, GO_MARSHAL_JSON, {
    enumerable: false,
    value: () => {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(fields).sort()) {
        const value = (fields as Record<string, unknown>)[key];
        if (typeof value !== 'function') sorted[key] = value;
      }
      return goJson(sorted, { escapeHtml: true });
    },
  });
  return row;
}

/**
 * Renders items with a user's format, as Docker's `formatter.Context.Write` does.
 *
 * @example
 * const out = new ListingFormatter('table {{.Repository}}\t{{.Tag}}').render(rows, { Repository: 'REPOSITORY', Tag: 'TAG' });
 */
export class ListingFormatter {
  readonly format: string;
  readonly #template: GoTemplate;

  /** `format` is what the user typed, with `table` already replaced by the verb's default. */
  constructor(format: string) {
    this.format = format;
    this.#template = parseFormat(templateText(format));
  }

  get isTable(): boolean {
    return isTableFormat(this.format);
  }

  /**
   * One template run per row, each followed by a newline; for tables, a header row made by the
   * same template over `header` (column names by field), then everything aligned.
   */
  render(rows: Iterable<unknown>, header: object): string {
    let body = '';
    for (const row of rows) body += `${executeFormat(this.#template, row)}\n`;
    if (!this.isTable) return body;
    // Docker ignores a failing header (e.g. `{{json .}}` in a table): what was written stays.
    let headerText = '';
    try {
      headerText = this.#template.execute(header, { funcs: HEADER_FUNCS });
    } catch (error) {
      if (!(error instanceof TemplateExecError)) throw error;
      headerText = error.partial;
    }
    return alignColumns(`${headerText}\n${body}`, DOCKER_TABLE);
  }
}
