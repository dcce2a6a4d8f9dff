/**
 * `--chmod` values of COPY and ADD as BuildKit takes them: an octal mode up to 07777, or a
 * symbolic mode of chmod(1) (`u+x`, `go-w`, `a=rX`, `u=rw,g=r,o=`), applied with BSD setmode's
 * rules (tonistiigi/dchapes-mode), where `X` adds execute to directories and to files that
 * already have some execute bit.
 */
import { GoValueError, parseGoUint } from './go-values.ts';

const IS_UID = 0o4000;
const IS_GID = 0o2000;
const IS_TXT = 0o1000;
const RWXU = 0o700;
const RWXG = 0o070;
const RWXO = 0o007;
const R_ALL = 0o444;
const W_ALL = 0o222;
const X_ALL = 0o111;
const STANDARD = IS_UID | IS_GID | RWXU | RWXG | RWXO;

interface BitCommand {
  cmd: '+' | '-' | 'X' | 'u' | 'g' | 'o';
  /** For u/g/o copies: which classes receive the bits, and whether to set and/or clear. */
  toU?: boolean;
  toG?: boolean;
  toO?: boolean;
  set?: boolean;
  clear?: boolean;
  bits: number;
}

/** A parsed `--chmod`: an absolute mode, or a symbolic change applied to each file. */
export interface ChmodSpec {
  /** The value as written. */
  text: string;
  /** The mode for an octal value. */
  octal?: number;
  /** The new permission bits (07777) for a file or directory whose current bits are `mode`. */
  apply(mode: number, isDirectory: boolean): number;
}

/** The error BuildKit gives for a value that looks numeric but is not a mode. */
const nonOctal = (text: string) =>
  new GoValueError(`invalid chmod parameter: '${text}'. it should be octal string and between 0 and 07777`);

/**
 * Parses a `--chmod` value; throws {@link GoValueError} with BuildKit's message.
 *
 * @example
 * parseChmod('0755').apply(0o644, false);  // 0o755
 * parseChmod('go-w').apply(0o666, false);  // 0o644
 * parseChmod('a+X').apply(0o644, true);    // 0o755
 */
export function parseChmod(text: string): ChmodSpec {
  let octal: number | undefined;
  try {
    octal = parseGoUint(text, 8, 32);
  } catch {
    octal = undefined;
  }
  if (octal !== undefined) {
    if (octal > 0o7777) throw nonOctal(text);
    const mode = octal;
    return { text, octal: mode, apply: () => mode };
  }
  if (text !== '' && text[0]! >= '0' && text[0]! <= '9') throw nonOctal(text);
  const commands = parseSymbolic(text);
  return { text, apply: (mode, isDirectory) => applyCommands(commands, mode & 0o7777, isDirectory) };
}

function syntaxError(text: string): GoValueError {
  return new GoValueError(
    `invalid chmod parameter: '${text}': invalid syntax (use an octal mode such as 0755, or a symbolic mode such as u+x,go-w)`,
  );
}

function addCommand(commands: BitCommand[], op: string, who: number, oparg: number): void {
  if (op === '=') {
    commands.push({ cmd: '-', bits: who !== 0 ? who : STANDARD });
    op = '+';
  }
  if (op === '+' || op === '-' || op === 'X') {
    commands.push({ cmd: op, bits: who !== 0 ? who & oparg : oparg });
    return;
  }
  // Copying one class's bits (`g=u`): oparg is the operator.
  const c: BitCommand = { cmd: op as 'u' | 'g' | 'o', bits: 0 };
  if (who !== 0) {
    c.toU = (who & 0o400) !== 0;
    c.toG = (who & 0o040) !== 0;
    c.toO = (who & 0o004) !== 0;
    c.bits = 0xffff;
  } else {
    c.toU = c.toG = c.toO = true;
    c.bits = 0xffff;
  }
  const operator = String.fromCharCode(oparg);
  c.set = operator === '+' || operator === '=';
  c.clear = operator === '-' || operator === '=';
  commands.push(c);
}

/** BSD setmode's parser (umask 0), the clauses separated by commas. */
function parseSymbolic(text: string): BitCommand[] {
  const commands: BitCommand[] = [];
  let s = text;
  if (s === '') throw syntaxError(text);
  let equalOpDone = false;
  for (;;) {
    let who = 0;
    for (;;) {
      if (s === '') throw syntaxError(text);
      const c = s[0];
      if (c === 'a') who |= STANDARD;
      else if (c === 'u') who |= IS_UID | RWXU;
      else if (c === 'g') who |= IS_GID | RWXG;
      else if (c === 'o') who |= RWXO;
      else break;
      s = s.slice(1);
    }
    for (;;) {
      const op = s[0]!;
      s = s.slice(1);
      if (op === '=') equalOpDone = false;
      else if (op !== '+' && op !== '-') throw syntaxError(text);
      who &= ~IS_TXT;
      let perm = 0;
      let permX = 0;
      for (; ; s = s.slice(1)) {
        const b = s[0] ?? '';
        if (b === 'r') perm |= R_ALL;
        else if (b === 's') {
          if (who === 0 || (who & ~RWXO) !== 0) perm |= IS_UID | IS_GID;
        } else if (b === 't') {
          if (who === 0 || (who & ~RWXO) !== 0) {
            who |= IS_TXT;
            perm |= IS_TXT;
          }
        } else if (b === 'w') perm |= W_ALL;
        else if (b === 'X') {
          if (op !== '-') permX = X_ALL;
          else perm |= X_ALL;
        } else if (b === 'x') perm |= X_ALL;
        else if (b === 'u' || b === 'g' || b === 'o') {
          if (perm !== 0) {
            addCommand(commands, op, who, perm);
            perm = 0;
          }
          if (op === '=') equalOpDone = true;
          if (permX !== 0) {
            addCommand(commands, 'X', who, permX);
            permX = 0;
          }
          addCommand(commands, b, who, op.charCodeAt(0));
        } else {
          if (perm !== 0 || (op === '=' && !equalOpDone)) {
            if (op === '=') equalOpDone = true;
            addCommand(commands, op, who, perm);
          }
          if (permX !== 0) addCommand(commands, 'X', who, permX);
          break;
        }
      }
      if (s === '' || s[0] === ',') break;
      // Another operator for the same `who` (`u+x-w`).
    }
    if (s === '') break;
    s = s.slice(1);
  }
  return commands;
}

function applyCommands(commands: BitCommand[], original: number, isDirectory: boolean): number {
  let mode = original;
  const copy = (c: BitCommand, value: number) => {
    if (c.clear) {
      const clearValue = c.set ? RWXO : value;
      if (c.toU) mode &= ~((clearValue << 6) & c.bits);
      if (c.toG) mode &= ~((clearValue << 3) & c.bits);
      if (c.toO) mode &= ~(clearValue & c.bits);
    }
    if (c.set) {
      if (c.toU) mode |= (value << 6) & c.bits;
      if (c.toG) mode |= (value << 3) & c.bits;
      if (c.toO) mode |= value & c.bits;
    }
  };
  for (const c of commands) {
    switch (c.cmd) {
      case 'u':
        copy(c, (mode & RWXU) >> 6);
        break;
      case 'g':
        copy(c, (mode & RWXG) >> 3);
        break;
      case 'o':
        copy(c, mode & RWXO);
        break;
      case '+':
        mode |= c.bits;
        break;
      case '-':
        mode &= ~c.bits;
        break;
      case 'X':
        if ((original & X_ALL) !== 0 || isDirectory) mode |= c.bits;
        break;
    }
  }
  return mode & 0o7777;
}
