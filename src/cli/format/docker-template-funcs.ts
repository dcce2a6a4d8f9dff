/**
 * The functions Docker adds to every `--format` template (`json`, `split`, `join`, `title`,
 * `lower`, `upper`, `pad`, `truncate`), and the stand-ins it uses while rendering a table's
 * header row, where each function returns the column name untouched.
 */
import { sprint } from './go-fmt.ts';
import { goJson } from './go-json.ts';
import { type FuncMap, GoTemplate } from './go-template.ts';
import { GoNil, goTypeName, kindOf, mapGet, sortedMapKeys } from './go-value.ts';

/** Go's `strings.Title`: upper-cases the first letter of every word. */
function title(s: string): string {
  const isSeparator = (ch: string): boolean => {
    const cp = ch.codePointAt(0)!;
    if (cp <= 0x7f) return !/[0-9A-Za-z_]/.test(ch);
    if (/[\p{L}\p{Nd}]/u.test(ch)) return false;
    return /\s/u.test(ch);
  };
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

/** Docker's `join`: a slice of anything (printed as Go prints it), or a map's sorted values. */
function join(elems: unknown, sep: string): string {
  switch (kindOf(elems)) {
    case 'invalid':
    case 'nil':
    case 'nilslice':
    case 'nilmap':
      return '';
    case 'slice':
      return Array.from(elems as ArrayLike<unknown>)
        .map((e) => (typeof e === 'string' ? e : sprint([e])))
        .join(sep);
    case 'map': {
      const map = elems as object;
      return sortedMapKeys(map)
        .map((k) => sprint([mapGet(map, k)]))
        .sort()
        .join(sep);
    }
    default:
      throw new Error(`expected slice, got ${elems instanceof GoNil ? elems.typeName : goTypeName(elems)}`);
  }
}

/** Go's `strings.Split`: an empty separator splits after each character. */
function split(s: string, sep: string): string[] {
  return sep === '' ? [...s] : s.split(sep);
}

/** Docker's `truncate`: the first `length` bytes. */
function truncate(source: string, length: number): string {
  const bytes = Buffer.from(source);
  return bytes.length < length ? source : bytes.subarray(0, Math.max(length, 0)).toString('utf8');
}

/** Docker's `pad`: spaces before and after a non-empty string. */
function pad(source: string, prefix: number, suffix: number): string {
  if (source === '') return source;
  return ' '.repeat(Math.max(prefix, 0)) + source + ' '.repeat(Math.max(suffix, 0));
}

/** Docker's basic template functions, on top of Go's builtins. */
export const DOCKER_FUNCS: FuncMap = {
  json: { params: ['any'], call: (v: unknown) => goJson(v) },
  split: { params: ['string', 'string'], call: split },
  join: { params: ['any', 'string'], call: join },
  title: { params: ['string'], call: title },
  lower: { params: ['string'], call: (s: string) => s.toLowerCase() },
  upper: { params: ['string'], call: (s: string) => s.toUpperCase() },
  pad: { params: ['string', 'int', 'int'], call: pad },
  truncate: { params: ['string', 'int'], call: truncate },
};

const same = (v: string): string => v;

/** The functions Docker swaps in to render a table header: column names pass through. */
export const HEADER_FUNCS: FuncMap = {
  json: { params: ['string'], call: same },
  split: { params: ['string', 'string'], call: same },
  join: { params: ['string', 'string'], call: same },
  title: { params: ['string'], call: same },
  lower: { params: ['string'], call: same },
  upper: { params: ['string'], call: same },
  truncate: { params: ['string', 'int'], call: same },
};

/**
 * Parses a format as Docker's `templates.Parse` does: an unnamed template with Docker's
 * functions. Throws TemplateParseError.
 *
 * @example
 * parseDockerTemplate('{{.Repository}}:{{.Tag}}').execute({ Repository: 'busybox', Tag: 'latest' });
 */
export function parseDockerTemplate(format: string): GoTemplate {
  return GoTemplate.parse(format, { funcs: DOCKER_FUNCS });
}
