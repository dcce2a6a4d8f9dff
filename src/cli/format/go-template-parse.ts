/**
 * The lexer and parser of Go's text/template language, faithful to Go's own
 * (`text/template/parse`): same tokens, same trim-marker and comment rules, same tree, and the
 * same error texts (`template: NAME:LINE: function "foo" not defined`), so a format that Docker
 * rejects is rejected here with the words Docker prints.
 *
 * Positions are JavaScript string indexes; {@link byteColumn} turns one into the byte column
 * Go reports.
 */

export type ArgNode =
  | { type: 'field'; pos: number; ident: string[] }
  | { type: 'variable'; pos: number; ident: string[] }
  | { type: 'chain'; pos: number; node: ArgNode; field: string[] }
  | { type: 'identifier'; pos: number; name: string }
  | { type: 'dot'; pos: number }
  | { type: 'nil'; pos: number }
  | { type: 'bool'; pos: number; value: boolean }
  | {
      type: 'number';
      pos: number;
      text: string;
      value: number | bigint;
      isInt: boolean;
      isFloatSyntax: boolean;
    }
  | { type: 'string'; pos: number; quoted: string; value: string }
  | PipeNode;

export interface CommandNode {
  type: 'command';
  pos: number;
  args: ArgNode[];
}

export interface PipeNode {
  type: 'pipe';
  pos: number;
  line: number;
  isAssign: boolean;
  decl: { pos: number; name: string }[];
  cmds: CommandNode[];
}

export type Node =
  | { type: 'text'; pos: number; text: string }
  | { type: 'action'; pos: number; line: number; pipe: PipeNode }
  | {
      type: 'if' | 'with' | 'range';
      pos: number;
      line: number;
      pipe: PipeNode;
      list: ListNode;
      elseList: ListNode | undefined;
    }
  | { type: 'template'; pos: number; line: number; name: string; pipe: PipeNode | undefined }
  | { type: 'break' | 'continue'; pos: number; line: number }
  | ListNode;

export interface ListNode {
  type: 'list';
  pos: number;
  nodes: Node[];
}

/** A parsed template and the named templates it defines (`define`, `block`). */
export interface ParsedTemplate {
  root: ListNode;
  defined: Map<string, ListNode>;
  text: string;
}

/** A template that does not parse; `message` is Go's full text (`template: :1: ...`). */
export class TemplateParseError extends Error {
  override name = 'TemplateParseError';
}

type ItemType =
  | 'error'
  | 'bool'
  | 'char'
  | 'charConstant'
  | 'assign'
  | 'declare'
  | 'eof'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  // keywords, printed as <word> in messages
  | 'block'
  | 'break'
  | 'continue'
  | 'dot'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'nil'
  | 'range'
  | 'template'
  | 'with';

interface Item {
  type: ItemType;
  pos: number;
  val: string;
  line: number;
}

const KEYWORDS = new Set<ItemType>([
  'block',
  'break',
  'continue',
  'dot',
  'define',
  'else',
  'end',
  'if',
  'nil',
  'range',
  'template',
  'with',
]);

const LEFT = '{{';
const RIGHT = '}}';

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
// ASCII first: building the \p{L} class costs ~0.35 ms, paid per character while V8 has no feedback
// vector for this function to keep the literal in (its first calls), and templates are mostly ASCII.
const isAlphaNumeric = (c: string | undefined): boolean =>
  c !== undefined && (c.charCodeAt(0) < 0x80 ? /^[A-Za-z0-9_]$/.test(c) : /^[\p{L}\p{Nd}_]$/u.test(c));

function itemString(item: Item): string {
  if (item.type === 'eof') return 'EOF';
  if (item.type === 'error') return item.val;
  if (KEYWORDS.has(item.type)) return `<${item.val}>`;
  const chars = [...item.val];
  if (chars.length > 10) return `${goQuote(chars.slice(0, 10).join(''))}...`;
  return goQuote(item.val);
}

/** Go's %q, enough for the names and tokens quoted in parse errors. */
export function goQuote(s: string): string {
  return JSON.stringify(s)
    .replace(/\\u00([0-7][0-9a-f])/g, '\\x$1')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Splits a template into items as Go's lexer does; stops at the first error item. */
function lex(input: string): Item[] {
  const items: Item[] = [];
  let start = 0;
  let pos = 0;
  let parenDepth = 0;
  const lineAt = (p: number): number => {
    let line = 1;
    for (let i = input.indexOf('\n'); i >= 0 && i < p; i = input.indexOf('\n', i + 1)) line++;
    return line;
  };
  const emit = (type: ItemType): void => {
    items.push({ type, pos: start, val: input.slice(start, pos), line: lineAt(start) });
    start = pos;
  };
  const fail = (message: string): false => {
    items.push({ type: 'error', pos: start, val: message, line: lineAt(start) });
    return false;
  };
  const hasLeftTrim = (at: number): boolean => input[at] === '-' && isSpace(input[at + 1]);
  const atRightDelim = (): { delim: boolean; trim: boolean } => {
    if (isSpace(input[pos]) && input[pos + 1] === '-' && input.startsWith(RIGHT, pos + 2)) {
      return { delim: true, trim: true };
    }
    return { delim: input.startsWith(RIGHT, pos), trim: false };
  };
  const leftTrimLength = (at: number): number => {
    let n = 0;
    while (isSpace(input[at + n])) n++;
    return n;
  };
  const atTerminator = (): boolean => {
    const c = input[pos];
    if (c === undefined || isSpace(c)) return true;
    return '.,|:()'.includes(c) || c === RIGHT[0];
  };
  const badChar = (c: string | undefined): string =>
    `bad character U+${(c ?? '\0').codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;

  // Returns false when lexing must stop (an error item was emitted).
  const lexAction = (): boolean => {
    for (;;) {
      const { delim, trim } = atRightDelim();
      if (delim) {
        if (parenDepth !== 0) return fail('unclosed left paren');
        if (trim) {
          pos += 2;
          start = pos;
        }
        pos += RIGHT.length;
        emit('rightDelim');
        if (trim) {
          pos += leftTrimLength(pos);
          start = pos;
        }
        return true;
      }
      const c = input[pos];
      if (c === undefined) return fail('unclosed action');
      pos++;
      if (isSpace(c)) {
        let spaces = 1;
        while (isSpace(input[pos])) {
          pos++;
          spaces++;
        }
        // A space followed by "-}}" belongs to the closing trim marker.
        if (input[pos] === '-' && input.startsWith(RIGHT, pos + 1)) {
          pos--;
          if (spaces === 1) continue;
        }
        emit('space');
      } else if (c === '=') emit('assign');
      else if (c === ':') {
        if (input[pos] !== '=') return fail('expected :=');
        pos++;
        emit('declare');
      } else if (c === '|') emit('pipe');
      else if (c === '"') {
        for (;;) {
          const d = input[pos++];
          if (d === '\\' && input[pos] !== undefined && input[pos] !== '\n') pos++;
          else if (d === undefined || d === '\n') return fail('unterminated quoted string');
          else if (d === '"') break;
        }
        emit('string');
      } else if (c === '`') {
        const end = input.indexOf('`', pos);
        if (end < 0) return fail('unterminated raw quoted string');
        pos = end + 1;
        emit('rawString');
      } else if (c === "'") {
        for (;;) {
          const d = input[pos++];
          if (d === '\\' && input[pos] !== undefined && input[pos] !== '\n') pos++;
          else if (d === undefined || d === '\n') return fail('unterminated character constant');
          else if (d === "'") break;
        }
        emit('charConstant');
      } else if (c === '$' || (c === '.' && !(input[pos]! >= '0' && input[pos]! <= '9'))) {
        if (atTerminator()) {
          emit(c === '$' ? 'variable' : 'dot');
          continue;
        }
        while (isAlphaNumeric(input[pos])) pos++;
        if (!atTerminator()) return fail(badChar(input[pos]));
        emit(c === '$' ? 'variable' : 'field');
      } else if (c === '.' || c === '+' || c === '-' || (c >= '0' && c <= '9')) {
        pos--;
        if (!scanNumber()) return fail(`bad number syntax: ${goQuote(input.slice(start, pos))}`);
        emit('number');
      } else if (isAlphaNumeric(c)) {
        while (isAlphaNumeric(input[pos])) pos++;
        if (!atTerminator()) return fail(badChar(input[pos]));
        const word = input.slice(start, pos);
        if (KEYWORDS.has(word as ItemType) && word !== 'dot') emit(word as ItemType);
        else if (word === 'true' || word === 'false') emit('bool');
        else emit('identifier');
      } else if (c === '(') {
        emit('leftParen');
        parenDepth++;
      } else if (c === ')') {
        emit('rightParen');
        parenDepth--;
        if (parenDepth < 0) return fail('unexpected right paren');
      } else if (c.charCodeAt(0) < 0x7f && c.charCodeAt(0) >= 0x20) {
        emit('char');
      } else {
        const cp = input.codePointAt(pos - 1)!;
        return fail(
          `unrecognized character in action: U+${cp.toString(16).toUpperCase().padStart(4, '0')} ${goQuote(String.fromCodePoint(cp)).replace(/^"|"$/g, "'")}`,
        );
      }
    }
  };
  const accept = (set: string): boolean => {
    const c = input[pos];
    if (c !== undefined && set.includes(c)) {
      pos++;
      return true;
    }
    return false;
  };
  const acceptRun = (set: string): void => {
    while (accept(set));
  };
  const scanNumber = (): boolean => {
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlphaNumeric(input[pos])) {
      pos++;
      return false;
    }
    return true;
  };

  for (;;) {
    const x = input.indexOf(LEFT, pos);
    if (x < 0) {
      pos = input.length;
      if (pos > start) emit('text');
      start = pos;
      emit('eof');
      return items;
    }
    if (x > pos || x > start) {
      pos = x;
      let trim = 0;
      if (hasLeftTrim(pos + LEFT.length)) {
        while (trim < pos - start && isSpace(input[pos - trim - 1])) trim++;
      }
      pos -= trim;
      if (pos > start) emit('text');
      pos += trim;
      start = pos;
    }
    // The left delimiter, possibly with a trim marker, possibly opening a comment.
    pos += LEFT.length;
    const trim = hasLeftTrim(pos);
    const after = trim ? 2 : 0;
    if (input.startsWith('/*', pos + after)) {
      pos += after;
      start = pos;
      const end = input.indexOf('*/', pos + 2);
      if (end < 0) {
        fail('unclosed comment');
        return items;
      }
      pos = end + 2;
      const { delim, trim: rightTrim } = atRightDelim();
      if (!delim) {
        fail('comment ends before closing delimiter');
        return items;
      }
      if (rightTrim) pos += 2;
      pos += RIGHT.length;
      if (rightTrim) pos += leftTrimLength(pos);
      start = pos;
      continue;
    }
    emit('leftDelim');
    pos += after;
    start = pos;
    parenDepth = 0;
    if (!lexAction()) return items;
  }
}

/**
 * Parses `text` as Go's `template.New(name).Parse(text)` does, checking function names
 * against `functions`.
 *
 * @example
 * const tree = parseTemplate('{{.Name | lower}}', '', new Set(['lower']));
 */
export function parseTemplate(text: string, name: string, functions: ReadonlySet<string>): ParsedTemplate {
  return new Parser(text, name, functions).parse();
}

class Parser {
  readonly #text: string;
  readonly #name: string;
  readonly #functions: ReadonlySet<string>;
  readonly #items: Item[];
  #index = 0;
  #current: Item;
  #vars: string[] = ['$'];
  #rangeDepth = 0;
  readonly #defined = new Map<string, ListNode>();

  constructor(text: string, name: string, functions: ReadonlySet<string>) {
    this.#text = text;
    this.#name = name;
    this.#functions = functions;
    this.#items = lex(text);
    this.#current = this.#items[0]!;
  }

  parse(): ParsedTemplate {
    const root: ListNode = { type: 'list', pos: 0, nodes: [] };
    while (this.#peek().type !== 'eof') {
      if (this.#peek().type === 'leftDelim') {
        const mark = this.#index;
        this.#next();
        if (this.#nextNonSpace().type === 'define') {
          this.#parseDefinition();
          continue;
        }
        this.#index = mark;
      }
      const node = this.#textOrAction();
      if (node.type === 'end' || node.type === 'else') this.#error(`unexpected ${controlString(node)}`);
      root.nodes.push(node as Node);
    }
    return { root, defined: this.#defined, text: this.#text };
  }

  #error(message: string): never {
    throw new TemplateParseError(`template: ${this.#name}:${this.#current.line}: ${message}`);
  }

  #next(): Item {
    const item = this.#items[this.#index] ?? this.#items[this.#items.length - 1]!;
    if (this.#index < this.#items.length) this.#index++;
    this.#current = item;
    if (item.type === 'error') this.#error(item.val);
    return item;
  }

  #peek(): Item {
    const item = this.#items[this.#index] ?? this.#items[this.#items.length - 1]!;
    this.#current = item;
    return item;
  }

  #backup(): void {
    this.#index--;
  }

  #nextNonSpace(): Item {
    let item: Item;
    do item = this.#next();
    while (item.type === 'space');
    return item;
  }

  #peekNonSpace(): Item {
    const item = this.#nextNonSpace();
    this.#backup();
    return item;
  }

  #expect(type: ItemType, context: string): Item {
    const item = this.#nextNonSpace();
    if (item.type !== type) this.#unexpected(item, context);
    return item;
  }

  #unexpected(item: Item, context: string): never {
    if (item.type === 'error') this.#error(item.val);
    this.#error(`unexpected ${itemString(item)} in ${context}`);
  }

  #parseDefinition(): void {
    const context = 'define clause';
    const nameItem = this.#nextNonSpace();
    if (nameItem.type !== 'string' && nameItem.type !== 'rawString') this.#unexpected(nameItem, context);
    const name = this.#unquote(nameItem.val);
    this.#expect('rightDelim', context);
    const saved = this.#vars;
    this.#vars = ['$'];
    const [list, end] = this.#itemList();
    if (end.type !== 'end') this.#error(`unexpected ${controlString(end)} in ${context}`);
    this.#vars = saved;
    this.#defined.set(name, list);
  }

  #itemList(): [ListNode, Control] {
    const list: ListNode = { type: 'list', pos: this.#peekNonSpace().pos, nodes: [] };
    while (this.#peekNonSpace().type !== 'eof') {
      const node = this.#textOrAction();
      if (node.type === 'end' || node.type === 'else') return [list, node as Control];
      list.nodes.push(node as Node);
    }
    this.#error('unexpected EOF');
  }

  #textOrAction(): Node | Control {
    const item = this.#nextNonSpace();
    switch (item.type) {
      case 'text':
        return { type: 'text', pos: item.pos, text: item.val };
      case 'leftDelim':
        return this.#action();
      default:
        this.#unexpected(item, 'input');
    }
  }

  #action(): Node | Control {
    const item = this.#nextNonSpace();
    switch (item.type) {
      case 'block':
        return this.#blockControl();
      case 'break':
      case 'continue': {
        const word = item.type;
        const delim = this.#nextNonSpace();
        if (delim.type !== 'rightDelim') this.#unexpected(delim, `{{${word}}}`);
        if (this.#rangeDepth === 0) this.#error(`{{${word}}} outside {{range}}`);
        return { type: word, pos: item.pos, line: item.line };
      }
      case 'else':
        return this.#elseControl();
      case 'end':
        return { type: 'end', pos: this.#expect('rightDelim', 'end').pos, line: item.line };
      case 'if':
      case 'range':
      case 'with':
        return this.#control(item.type);
      case 'template':
        return this.#templateControl();
    }
    this.#backup();
    const start = this.#peek();
    return {
      type: 'action',
      pos: start.pos,
      line: start.line,
      pipe: this.#pipeline('command', 'rightDelim'),
    };
  }

  #elseControl(): Control {
    const peek = this.#peekNonSpace();
    if (peek.type === 'if' || peek.type === 'with') return { type: 'else', pos: peek.pos, line: peek.line };
    const item = this.#expect('rightDelim', 'else');
    return { type: 'else', pos: item.pos, line: item.line };
  }

  #control(context: 'if' | 'range' | 'with'): Node {
    const saved = this.#vars.length;
    const pipe = this.#pipeline(context, 'rightDelim');
    if (context === 'range') this.#rangeDepth++;
    const [list, next] = this.#itemList();
    if (context === 'range') this.#rangeDepth--;
    let elseList: ListNode | undefined;
    if (next.type === 'else') {
      // {{else if}} and {{else with}} nest the rest of the chain in the else branch.
      const following = this.#peek().type;
      if ((context === 'if' && following === 'if') || (context === 'with' && following === 'with')) {
        this.#next();
        elseList = { type: 'list', pos: next.pos, nodes: [this.#control(context)] };
      } else {
        const [list2, end] = this.#itemList();
        if (end.type !== 'end') this.#error(`expected end; found ${controlString(end)}`);
        elseList = list2;
      }
    }
    this.#vars.length = saved;
    return { type: context, pos: pipe.pos, line: pipe.line, pipe, list, elseList };
  }

  #templateName(item: Item, context: string): string {
    if (item.type !== 'string' && item.type !== 'rawString') this.#unexpected(item, context);
    return this.#unquote(item.val);
  }

  #templateControl(): Node {
    const context = 'template clause';
    const item = this.#nextNonSpace();
    const name = this.#templateName(item, context);
    let pipe: PipeNode | undefined;
    if (this.#nextNonSpace().type !== 'rightDelim') {
      this.#backup();
      pipe = this.#pipeline(context, 'rightDelim');
    }
    return { type: 'template', pos: item.pos, line: item.line, name, pipe };
  }

  #blockControl(): Node {
    const context = 'block clause';
    const item = this.#nextNonSpace();
    const name = this.#templateName(item, context);
    if (this.#nextNonSpace().type === 'rightDelim') this.#error(`missing value for ${context}`);
    this.#backup();
    const pipe = this.#pipeline(context, 'rightDelim');
    const saved = this.#vars;
    this.#vars = ['$'];
    const [list, end] = this.#itemList();
    if (end.type !== 'end') this.#error(`unexpected ${controlString(end)} in ${context}`);
    this.#vars = saved;
    this.#defined.set(name, list);
    return { type: 'template', pos: item.pos, line: item.line, name, pipe };
  }

  #pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const start = this.#peekNonSpace();
    const pipe: PipeNode = {
      type: 'pipe',
      pos: start.pos,
      line: start.line,
      isAssign: false,
      decl: [],
      cmds: [],
    };
    for (;;) {
      const v = this.#peekNonSpace();
      if (v.type !== 'variable') break;
      const mark = this.#index;
      this.#next();
      const next = this.#peekNonSpace();
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.#nextNonSpace();
        pipe.decl.push({ pos: v.pos, name: v.val });
        this.#vars.push(v.val);
      } else if (next.type === 'char' && next.val === ',') {
        this.#nextNonSpace();
        pipe.decl.push({ pos: v.pos, name: v.val });
        this.#vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = this.#peekNonSpace().type;
          if (t === 'variable' || t === 'rightDelim' || t === 'rightParen') continue;
          this.#error('range can only initialize variables');
        }
        this.#error(`too many declarations in ${context}`);
      } else {
        // Not a declaration ("$x foo"): put the variable back.
        this.#index = mark;
      }
      break;
    }
    for (;;) {
      const item = this.#nextNonSpace();
      if (item.type === end) {
        if (pipe.cmds.length === 0) this.#error(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((cmd, i) => {
          const first = cmd.args[0]!.type;
          if (
            first === 'bool' ||
            first === 'dot' ||
            first === 'nil' ||
            first === 'number' ||
            first === 'string'
          ) {
            this.#error(`non executable command in pipeline stage ${i + 2}`);
          }
        });
        return pipe;
      }
      switch (item.type) {
        case 'bool':
        case 'charConstant':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.#backup();
          pipe.cmds.push(this.#command());
          break;
        default:
          this.#unexpected(item, context);
      }
    }
  }

  #command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.#peekNonSpace().pos, args: [] };
    for (;;) {
      this.#peekNonSpace();
      const operand = this.#operand();
      if (operand) cmd.args.push(operand);
      const item = this.#next();
      if (item.type === 'space') continue;
      if (item.type === 'rightDelim' || item.type === 'rightParen') this.#backup();
      else if (item.type !== 'pipe') this.#unexpected(item, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.#error('empty command');
    return cmd;
  }

  #operand(): ArgNode | undefined {
    const node = this.#term();
    if (!node) return undefined;
    if (this.#peek().type !== 'field') return node;
    const fields: string[] = [];
    while (this.#peek().type === 'field') fields.push(this.#next().val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return this.#error(`unexpected . after term ${goQuote(argString(node))}`);
      default:
        return { type: 'chain', pos: node.pos, node, field: fields };
    }
  }

  #term(): ArgNode | undefined {
    const item = this.#nextNonSpace();
    switch (item.type) {
      case 'identifier':
        if (!this.#functions.has(item.val)) this.#error(`function ${goQuote(item.val)} not defined`);
        return { type: 'identifier', pos: item.pos, name: item.val };
      case 'dot':
        return { type: 'dot', pos: item.pos };
      case 'nil':
        return { type: 'nil', pos: item.pos };
      case 'variable': {
        const ident = item.val.split('.');
        if (!this.#vars.includes(ident[0]!)) this.#error(`undefined variable ${goQuote(ident[0]!)}`);
        return { type: 'variable', pos: item.pos, ident };
      }
      case 'field':
        return { type: 'field', pos: item.pos, ident: [item.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: item.pos, value: item.val === 'true' };
      case 'charConstant':
      case 'number':
        return this.#number(item);
      case 'leftParen':
        return this.#pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { type: 'string', pos: item.pos, quoted: item.val, value: this.#unquote(item.val) };
    }
    this.#backup();
    return undefined;
  }

  #number(item: Item): ArgNode {
    const text = item.val;
    if (item.type === 'charConstant') {
      const value = this.#unquote(text);
      const cp = [...value].length === 1 ? value.codePointAt(0)! : -1;
      if (cp < 0) this.#error(`malformed character constant: ${text}`);
      return { type: 'number', pos: item.pos, text, value: cp, isInt: true, isFloatSyntax: false };
    }
    const clean = text.replace(/_/g, '');
    const isHex = /^[+-]?0[xX]/.test(clean);
    const floatSyntax = isHex ? /[pP]/.test(clean) : /[.eE]/.test(clean);
    if (!floatSyntax && !clean.endsWith('i')) {
      const sign = clean.startsWith('-') ? -1n : 1n;
      const body = clean.replace(/^[+-]/, '');
      const normalized = /^0[0-7]+$/.test(body) ? `0o${body.slice(1)}` : body;
      try {
        const big = sign * BigInt(normalized);
        if (big > 0x7fffffffffffffffn || big < -0x8000000000000000n) {
          this.#error(`integer overflow: ${goQuote(text)}`);
        }
        const value = Number.isSafeInteger(Number(big)) ? Number(big) : big;
        return { type: 'number', pos: item.pos, text, value, isInt: true, isFloatSyntax: false };
      } catch (error) {
        if (error instanceof TemplateParseError) throw error;
        this.#error(`illegal number syntax: ${goQuote(text)}`);
      }
    }
    const value = isHex ? parseHexFloat(clean) : Number(clean);
    if (Number.isNaN(value)) this.#error(`illegal number syntax: ${goQuote(text)}`);
    return {
      type: 'number',
      pos: item.pos,
      text,
      value,
      isInt: Number.isInteger(value),
      isFloatSyntax: true,
    };
  }

  #unquote(quoted: string): string {
    const result = unquote(quoted);
    if (result === undefined) this.#error('invalid syntax');
    return result;
  }
}

type Control = { type: 'end' | 'else'; pos: number; line: number };

function controlString(node: { type: string }): string {
  return `{{${node.type}}}`;
}

function parseHexFloat(text: string): number {
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(text);
  if (!m) return Number.NaN;
  const whole = m[2] ? Number.parseInt(m[2], 16) : 0;
  const frac = m[3] ? Number.parseInt(m[3], 16) / 16 ** m[3].length : 0;
  return (m[1] === '-' ? -1 : 1) * (whole + frac) * 2 ** Number(m[4]);
}

/** Go's `strconv.Unquote` for "...", `...` and '...'; undefined when malformed. */
export function unquote(quoted: string): string | undefined {
  const q = quoted[0];
  if (quoted.length < 2 || quoted[quoted.length - 1] !== q) return undefined;
  const body = quoted.slice(1, -1);
  if (q === '`') return body.includes('`') ? undefined : body.replace(/\r/g, '');
  if (q !== '"' && q !== "'") return undefined;
  const bytes: number[] = [];
  const pushText = (s: string): void => {
    for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
  };
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c === q || c === '\n') return undefined;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      pushText(ch);
      i += ch.length;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
    };
    if (e !== undefined && e in simple) pushText(simple[e]!);
    else if (e === q) pushText(q);
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i, i + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) return undefined;
      i += n;
      const value = Number.parseInt(hex, 16);
      if (e === 'x') bytes.push(value);
      else if (value > 0x10ffff || (value >= 0xd800 && value < 0xe000)) return undefined;
      else pushText(String.fromCodePoint(value));
    } else if (e !== undefined && e >= '0' && e <= '7') {
      const oct = body.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(oct)) return undefined;
      const value = Number.parseInt(oct, 8);
      if (value > 255) return undefined;
      bytes.push(value);
      i += 2;
    } else return undefined;
  }
  const text = Buffer.from(bytes).toString('utf8');
  if (q === "'" && [...text].length !== 1) return undefined;
  return text;
}

/** Go's `Node.String()` for argument nodes, used in error contexts (`at <.Foo>`). */
export function argString(node: ArgNode | CommandNode): string {
  switch (node.type) {
    case 'field':
      return `.${node.ident.join('.')}`;
    case 'variable':
      return node.ident.join('.');
    case 'chain': {
      const inner = node.node.type === 'pipe' ? `(${argString(node.node)})` : argString(node.node);
      return `${inner}.${node.field.join('.')}`;
    }
    case 'identifier':
      return node.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(node.value);
    case 'number':
      return node.text;
    case 'string':
      return node.quoted;
    case 'command':
      return node.args.map((arg) => (arg.type === 'pipe' ? `(${argString(arg)})` : argString(arg))).join(' ');
    case 'pipe': {
      const decl = node.decl.length
        ? `${node.decl.map((d) => d.name).join(', ')} ${node.isAssign ? '=' : ':='} `
        : '';
      return decl + node.cmds.map(argString).join(' | ');
    }
  }
}

/** Go's `Node.String()` for statement nodes. */
export function nodeString(node: Node): string {
  switch (node.type) {
    case 'text':
      return node.text;
    case 'action':
      return `{{${argString(node.pipe)}}}`;
    case 'if':
    case 'with':
    case 'range': {
      const elsePart = node.elseList ? `{{else}}${nodeString(node.elseList)}` : '';
      return `{{${node.type} ${argString(node.pipe)}}}${nodeString(node.list)}${elsePart}{{end}}`;
    }
    case 'template':
      return node.pipe
        ? `{{template ${goQuote(node.name)} ${argString(node.pipe)}}}`
        : `{{template ${goQuote(node.name)}}}`;
    case 'break':
    case 'continue':
      return `{{${node.type}}}`;
    case 'list':
      return node.nodes.map(nodeString).join('');
  }
}

/** The 1-based line and the byte column (Go's) of position `pos` in `text`. */
export function byteColumn(text: string, pos: number): { line: number; column: number } {
  const before = text.slice(0, pos);
  const lastNewline = before.lastIndexOf('\n');
  const line = before.split('\n').length;
  const column = Buffer.byteLength(before.slice(lastNewline + 1), 'utf8');
  return { line, column };
}
