/**
 * The Go standard-library value parsers BuildKit's instruction layer relies on, with their exact
 * acceptance rules and messages: strconv.ParseBool/ParseInt/ParseUint, time.ParseDuration,
 * docker/go-units RAMInBytes, and tonistiigi/go-csvvalue's single-line CSV reader.
 * Failures throw {@link GoValueError} carrying Go's message.
 */
import { goQuote } from '../parser/go-quote.ts';

/** A value Go would refuse; `message` is Go's error text. */
export class GoValueError extends Error {}

/** strconv.ParseBool. */
export function parseGoBool(value: string): boolean {
  switch (value) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
  }
  throw new GoValueError(`strconv.ParseBool: parsing ${goQuote(value)}: invalid syntax`);
}

/** strconv.ParseUint with an explicit base (2..36, no prefixes or underscores) and bit size. */
export function parseGoUint(value: string, base: number, bits: number): number {
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, base);
  if (value === '' || [...value.toLowerCase()].some((c) => !digits.includes(c))) {
    throw new GoValueError(`strconv.ParseUint: parsing ${goQuote(value)}: invalid syntax`);
  }
  let n = 0n;
  for (const c of value.toLowerCase()) n = n * BigInt(base) + BigInt(digits.indexOf(c));
  if (n >= 1n << BigInt(bits))
    throw new GoValueError(`strconv.ParseUint: parsing ${goQuote(value)}: value out of range`);
  return Number(n);
}

/** strconv.ParseInt in base 10 with a bit size: an optional sign, then decimal digits. */
export function parseGoInt(value: string, bits: number): number {
  const match = /^([+-]?)([0-9]+)$/.exec(value);
  if (!match) throw new GoValueError(`strconv.ParseInt: parsing ${goQuote(value)}: invalid syntax`);
  const n = BigInt(match[2]!) * (match[1] === '-' ? -1n : 1n);
  const limit = 1n << BigInt(bits - 1);
  if (n >= limit || n < -limit)
    throw new GoValueError(`strconv.ParseInt: parsing ${goQuote(value)}: value out of range`);
  return Number(n);
}

/** time.quote: ASCII printable kept, others as \x bytes. */
function timeQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80 || cp < 0x20) {
      for (const byte of Buffer.from(ch)) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    } else {
      out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
    }
  }
  return `${out}"`;
}

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n, // U+00B5
  μs: 1000n, // U+03BC
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_INT64 = (1n << 63n) - 1n;

/**
 * time.ParseDuration: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or `0`, in nanoseconds.
 *
 * @example
 * parseGoDuration('1m30s'); // 90_000_000_000n
 */
export function parseGoDuration(text: string): bigint {
  const invalid = () => new GoValueError(`time: invalid duration ${timeQuote(text)}`);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    if (!/^[0-9.]/.test(s)) throw invalid();
    const intPart = /^[0-9]*/.exec(s)![0];
    s = s.slice(intPart.length);
    let v = 0n;
    for (const c of intPart) {
      if (v > (1n << 63n) / 10n) throw invalid();
      v = v * 10n + BigInt(c);
      if (v > 1n << 63n) throw invalid();
    }
    let fraction = 0n;
    let scale = 1;
    let post = false;
    if (s.startsWith('.')) {
      const fracPart = /^[0-9]*/.exec(s.slice(1))![0];
      s = s.slice(1 + fracPart.length);
      post = fracPart.length > 0;
      let overflow = false;
      for (const c of fracPart) {
        if (overflow) continue;
        if (fraction > MAX_INT64 / 10n) {
          overflow = true;
          continue;
        }
        const next = fraction * 10n + BigInt(c);
        if (next > 1n << 63n) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
    }
    if (intPart === '' && !post) throw invalid();
    const unitText = /^[^0-9.]*/.exec(s)![0];
    if (unitText === '') throw new GoValueError(`time: missing unit in duration ${timeQuote(text)}`);
    s = s.slice(unitText.length);
    const unit = DURATION_UNITS[unitText];
    if (unit === undefined) {
      throw new GoValueError(`time: unknown unit ${timeQuote(unitText)} in duration ${timeQuote(text)}`);
    }
    if (v > (1n << 63n) / unit) throw invalid();
    v *= unit;
    if (fraction > 0n) {
      // Go does this step in float64 too.
      v += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (v > 1n << 63n) throw invalid();
    }
    total += v;
    if (total > 1n << 63n) throw invalid();
  }
  if (negative) return -total;
  if (total > MAX_INT64) throw invalid();
  return total;
}

/** time.Duration's String for whole values BuildKit prints in messages (`1ms`, `30s`). */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  if (ns % 1_000_000_000n === 0n) return `${ns / 1_000_000_000n}s`;
  if (ns % 1_000_000n === 0n) return `${ns / 1_000_000n}ms`;
  if (ns % 1000n === 0n) return `${ns / 1000n}µs`;
  return `${ns}ns`;
}

/**
 * docker/go-units RAMInBytes: a number (decimal, optional fraction and exponent) then an
 * optional binary unit `k`, `m`, `g`, `t`, `p` with an optional `b`/`ib`, case-insensitive.
 */
export function ramInBytes(text: string): number {
  let sep = -1;
  for (let i = text.length - 1; i >= 0; i--) {
    if ('01234567890. '.includes(text[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new GoValueError(`invalid size: '${text}'`);
  const num = text[sep] === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  let suffix = text.slice(sep + 1);
  if (!/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(num)) {
    throw new GoValueError(`strconv.ParseFloat: parsing ${goQuote(num)}: invalid syntax`);
  }
  let size = Number(num);
  if (size < 0) throw new GoValueError(`invalid size: '${text}'`);
  if (suffix === '') return Math.trunc(size);
  const badSuffix = () => new GoValueError(`invalid suffix: '${suffix}'`);
  if (suffix.length > 3) throw badSuffix();
  suffix = suffix.toLowerCase();
  if (suffix[0] === 'b') {
    if (suffix.length > 1) throw badSuffix();
    return Math.trunc(size);
  }
  const multiplier = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[suffix[0]!];
  if (multiplier === undefined) throw badSuffix();
  size *= multiplier;
  if ((suffix.length === 2 && suffix[1] !== 'b') || (suffix.length === 3 && suffix.slice(1) !== 'ib')) {
    throw badSuffix();
  }
  return Math.trunc(size);
}

/**
 * One CSV record as tonistiigi/go-csvvalue reads `--mount` and `--device` values: `,`
 * separated, `"` quoting with `""` for a quote, no bare quotes inside unquoted fields. Error
 * messages are Go's encoding/csv ones (`parse error on line 1, column N: ...`; `EOF` for "").
 */
export function csvFields(input: string): string[] {
  let line = input;
  if (line.endsWith('\r\n')) line = line.slice(0, -2);
  else if (line.endsWith('\n')) line = line.slice(0, -1);
  if (line === '') throw new GoValueError('EOF');
  const fields: string[] = [];
  let pos = 0; // in UTF-8 bytes, for Go's column numbers
  const bytes = (s: string) => Buffer.byteLength(s);
  const fail = (at: number, why: string) =>
    new GoValueError(`parse error on line 1, column ${at + 1}: ${why}`);
  for (;;) {
    if (line === '' || line[0] !== '"') {
      const comma = line.indexOf(',');
      const field = comma >= 0 ? line.slice(0, comma) : line;
      const quote = field.indexOf('"');
      if (quote >= 0) throw fail(pos + bytes(field.slice(0, quote)), 'bare " in non-quoted-field');
      fields.push(field);
      if (comma < 0) return fields;
      line = line.slice(comma + 1);
      pos += bytes(field) + 1;
      continue;
    }
    line = line.slice(1);
    pos += 1;
    let halfOpen = false;
    for (;;) {
      const quote = line.indexOf('"');
      if (quote < 0) throw fail(pos, 'extraneous or missing " in quoted-field');
      const part = line.slice(0, quote);
      if (halfOpen) fields[fields.length - 1] += part;
      else fields.push(part);
      halfOpen = false;
      line = line.slice(quote + 1);
      pos += bytes(part) + 1;
      if (line.startsWith('"')) {
        fields[fields.length - 1] += '"';
        line = line.slice(1);
        pos += 1;
        halfOpen = true;
      } else if (line.startsWith(',')) {
        line = line.slice(1);
        pos += 1;
        break;
      } else if (line === '') {
        return fields;
      } else {
        throw fail(pos - 1, 'extraneous or missing " in quoted-field');
      }
    }
  }
}
