/**
 * Go's text/template, executed over the JavaScript stand-ins of go-value.ts: fields and map keys,
 * methods (function properties), variables, pipelines, `if`/`else if`/`with`/`range` (with
 * `break`, `continue`, `else`), `define`/`template`/`block`, and Go's builtin functions (`and or
 * not len index slice print printf println eq ne lt le gt ge html js urlquery call`), with Go's
 * error texts (`template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type T`).
 *
 * This is the engine behind every `--format` flag; Docker's own functions (`json`, `join`,
 * `lower`...) are in docker-template-funcs.ts.
 */
import { formatValue, sprint, sprintf, sprintln } from './go-fmt.ts';
import {
  type ArgNode,
  argString,
  byteColumn,
  type CommandNode,
  goQuote,
  type ListNode,
  type Node,
  nodeString,
  type ParsedTemplate,
  type PipeNode,
  parseTemplate,
} from './go-template-parse.ts';
import {
  GoFloat,
  GoNil,
  goTypeName,
  isTrue,
  kindOf,
  lookupMember,
  mapGet,
  mapSize,
  sortedMapKeys,
} from './go-value.ts';

export { TemplateParseError } from './go-template-parse.ts';

/** The Go type a function parameter accepts; arguments are checked against it as Go does. */
export type ParamType = 'any' | 'string' | 'int' | 'bool' | 'float';

/** A template function with its Go signature. `call` throws to report `error calling NAME: ...`. */
export interface GoFunc {
  params: readonly ParamType[];
  variadic?: ParamType;
  call(...args: never[]): unknown;
}

export type FuncMap = Readonly<Record<string, GoFunc>>;

/** What Go's `Option("missingkey=...")` selects for a map key that is absent. */
export type MissingKey = 'default' | 'zero' | 'error';

/** A template that failed while running; `message` is Go's full text. */
export class TemplateExecError extends Error {
  override name = 'TemplateExecError';
  /** What the template had written before it failed (Go leaves it in the writer). */
  partial = '';
}

const MISSING: unique symbol = Symbol('missing');
type Value = unknown;
type PositionedNode = Node | ArgNode | CommandNode | PipeNode;
type ControlNode = Extract<Node, { type: 'if' | 'with' | 'range' }>;

class BreakSignal {}
class ContinueSignal {}

const MAX_DEPTH = 10000;

/**
 * A parsed Go template.
 *
 * @example
 * const t = GoTemplate.parse('{{range $i, $e := .}}{{if $i}},{{end}}{{$e}}{{end}}');
 * t.execute(['a', 'b']); // 'a,b'
 */
export class GoTemplate {
  readonly #tree: ParsedTemplate;
  readonly #name: string;
  readonly #funcs: FuncMap;

  private constructor(tree: ParsedTemplate, name: string, funcs: FuncMap) {
    this.#tree = tree;
    this.#name = name;
    this.#funcs = funcs;
  }

  /** Parses `text`; throws TemplateParseError with Go's message. `funcs` add to Go's builtins. */
  static parse(text: string, options: { name?: string; funcs?: FuncMap } = {}): GoTemplate {
    const funcs = { ...BUILTINS, ...options.funcs };
    const name = options.name ?? '';
    return new GoTemplate(parseTemplate(text, name, new Set(Object.keys(funcs))), name, funcs);
  }

  /**
   * Runs the template on `data` and returns its output; throws TemplateExecError. `funcs`
   * replace functions of the same names for this run only (Docker renders table headers so).
   */
  execute(data: unknown, options: { missingKey?: MissingKey; funcs?: FuncMap } = {}): string {
    const funcs = options.funcs ? { ...this.#funcs, ...options.funcs } : this.#funcs;
    const state = new State(this.#tree, this.#name, funcs, options.missingKey ?? 'default', data);
    try {
      state.walk(data, this.#tree.root);
    } catch (error) {
      if (error instanceof TemplateExecError) error.partial = state.out.join('');
      throw error;
    }
    return state.out.join('');
  }
}

class State {
  readonly out: string[] = [];
  #vars: { name: string; value: Value }[];
  #node: PositionedNode | undefined;
  #execName: string;
  #depth = 0;
  readonly #tree: ParsedTemplate;
  readonly #parseName: string;
  readonly #funcs: FuncMap;
  readonly #missingKey: MissingKey;

  constructor(tree: ParsedTemplate, name: string, funcs: FuncMap, missingKey: MissingKey, data: unknown) {
    this.#tree = tree;
    this.#parseName = name;
    this.#execName = name;
    this.#funcs = funcs;
    this.#missingKey = missingKey;
    this.#vars = [{ name: '$', value: data }];
  }

  #at(node: PositionedNode): void {
    this.#node = node;
  }

  #error(message: string): never {
    const node = this.#node;
    if (!node) throw new TemplateExecError(`template: ${this.#execName}: ${message}`);
    const { line, column } = byteColumn(this.#tree.text, node.pos);
    let context = isArgNode(node) ? argString(node) : nodeString(node as Node);
    if (Buffer.byteLength(context) > 20) context = `${[...context].slice(0, 20).join('')}...`;
    throw new TemplateExecError(
      `template: ${this.#parseName}:${line}:${column}: executing ${goQuote(this.#execName)} at <${context}>: ${message}`,
    );
  }

  #mark(): number {
    return this.#vars.length;
  }

  #pop(mark: number): void {
    this.#vars.length = mark;
  }

  #setVar(name: string, value: Value): void {
    for (let i = this.#vars.length - 1; i >= 0; i--) {
      if (this.#vars[i]!.name === name) {
        this.#vars[i]!.value = value;
        return;
      }
    }
    this.#error(`undefined variable: ${name}`);
  }

  #setTopVar(n: number, value: Value): void {
    this.#vars[this.#vars.length - n]!.value = value;
  }

  #varValue(name: string): Value {
    for (let i = this.#vars.length - 1; i >= 0; i--) {
      if (this.#vars[i]!.name === name) return this.#vars[i]!.value;
    }
    this.#error(`undefined variable: ${name}`);
  }

  walk(dot: Value, node: Node): void {
    this.#at(node);
    switch (node.type) {
      case 'action': {
        const value = this.#evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.#printValue(node, value);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.#mark();
        const value = this.#evalPipeline(dot, node.pipe);
        if (isTrue(value)) this.walk(node.type === 'with' ? value : dot, node.list);
        else if (node.elseList) this.walk(dot, node.elseList);
        this.#pop(mark);
        return;
      }
      case 'list':
        for (const child of node.nodes) this.walk(dot, child);
        return;
      case 'range':
        this.#walkRange(dot, node);
        return;
      case 'template':
        this.#walkTemplate(dot, node);
        return;
      case 'text':
        this.out.push(node.text);
        return;
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
    }
  }

  #walkRange(dot: Value, node: ControlNode): void {
    this.#at(node);
    const outer = this.#mark();
    const value = this.#evalPipeline(dot, node.pipe);
    const mark = this.#mark();
    const decl = node.pipe.decl;
    // Returns false when the body said {{break}}.
    const oneIteration = (index: Value, elem: Value): boolean => {
      if (decl.length > 0) {
        if (node.pipe.isAssign) this.#setVar(decl[0]!.name, decl.length > 1 ? index : elem);
        else this.#setTopVar(1, elem);
      }
      if (decl.length > 1) {
        if (node.pipe.isAssign) this.#setVar(decl[1]!.name, elem);
        else this.#setTopVar(2, index);
      }
      try {
        this.walk(elem, node.list);
      } catch (signal) {
        if (signal instanceof BreakSignal) return false;
        if (!(signal instanceof ContinueSignal)) throw signal;
      } finally {
        this.#pop(mark);
      }
      return true;
    };
    let ran = false;
    switch (kindOf(value)) {
      case 'slice': {
        const items = Array.from(value as ArrayLike<unknown>);
        for (let i = 0; i < items.length; i++) {
          ran = true;
          if (!oneIteration(i, items[i])) break;
        }
        break;
      }
      case 'map': {
        const map = value as object;
        for (const key of sortedMapKeys(map)) {
          ran = true;
          if (!oneIteration(key, mapGet(map, key))) break;
        }
        break;
      }
      case 'int': {
        if (decl.length > 1) this.#error(`can't use ${String(value)} to iterate over more than one variable`);
        const n = Number(value);
        for (let i = 0; i < n; i++) {
          ran = true;
          if (!oneIteration(i, i)) break;
        }
        break;
      }
      case 'invalid':
      case 'nil':
      case 'nilslice':
      case 'nilmap':
      case 'nilptr':
        break;
      default:
        this.#error(`range can't iterate over ${formatValue(value, 'v')}`);
    }
    if (!ran && node.elseList) this.walk(dot, node.elseList);
    this.#pop(outer);
  }

  #walkTemplate(dot: Value, node: Extract<Node, { type: 'template' }>): void {
    this.#at(node);
    const list = this.#tree.defined.get(node.name);
    if (!list) this.#error(`template ${goQuote(node.name)} not defined`);
    if (this.#depth >= MAX_DEPTH) this.#error(`exceeded maximum template depth (${MAX_DEPTH})`);
    const newDot = node.pipe ? this.#evalPipeline(dot, node.pipe) : undefined;
    const saved = { vars: this.#vars, name: this.#execName };
    // No dynamic scoping: the invoked template sees only $.
    this.#vars = [{ name: '$', value: newDot }];
    this.#execName = node.name;
    this.#depth++;
    try {
      this.walk(newDot, list as ListNode);
    } finally {
      this.#depth--;
      this.#vars = saved.vars;
      this.#execName = saved.name;
    }
  }

  #evalPipeline(dot: Value, pipe: PipeNode): Value {
    this.#at(pipe);
    let value: Value = MISSING;
    for (const cmd of pipe.cmds) value = this.#evalCommand(dot, cmd, value);
    for (const variable of pipe.decl) {
      if (pipe.isAssign) this.#setVar(variable.name, value);
      else this.#vars.push({ name: variable.name, value });
    }
    return value;
  }

  #notAFunction(args: readonly ArgNode[] | undefined, final: Value): void {
    if ((args && args.length > 1) || final !== MISSING) {
      this.#error(`can't give argument to non-function ${argString(args![0]!)}`);
    }
  }

  #evalCommand(dot: Value, cmd: CommandNode, final: Value): Value {
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        return this.#evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.#evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.#evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.#notAFunction(cmd.args, final);
        return this.#evalPipeline(dot, first);
      case 'variable':
        return this.#evalVariableNode(dot, first, cmd.args, final);
    }
    this.#at(first);
    this.#notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.#error('nil is not a command');
      case 'number':
        return idealConstant(first);
      case 'string':
        return first.value;
    }
  }

  #evalFieldNode(
    dot: Value,
    field: Extract<ArgNode, { type: 'field' }>,
    args: readonly ArgNode[] | undefined,
    final: Value,
  ): Value {
    this.#at(field);
    return this.#evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  #evalChainNode(
    dot: Value,
    chain: Extract<ArgNode, { type: 'chain' }>,
    args: readonly ArgNode[] | undefined,
    final: Value,
  ): Value {
    this.#at(chain);
    if (chain.node.type === 'nil') this.#error(`indirection through explicit nil in ${argString(chain)}`);
    const receiver = this.#evalArg(dot, 'any', chain.node, true);
    return this.#evalFieldChain(dot, receiver, chain, chain.field, args, final);
  }

  #evalVariableNode(
    dot: Value,
    variable: Extract<ArgNode, { type: 'variable' }>,
    args: readonly ArgNode[] | undefined,
    final: Value,
  ): Value {
    this.#at(variable);
    const value = this.#varValue(variable.ident[0]!);
    if (variable.ident.length === 1) {
      this.#notAFunction(args, final);
      return value;
    }
    return this.#evalFieldChain(dot, value, variable, variable.ident.slice(1), args, final);
  }

  #evalFieldChain(
    dot: Value,
    receiver: Value,
    node: ArgNode,
    ident: readonly string[],
    args: readonly ArgNode[] | undefined,
    final: Value,
  ): Value {
    const n = ident.length;
    for (let i = 0; i < n - 1; i++)
      receiver = this.#evalField(dot, ident[i]!, node, undefined, MISSING, receiver);
    return this.#evalField(dot, ident[n - 1]!, node, args, final, receiver);
  }

  #evalFunction(
    dot: Value,
    node: Extract<ArgNode, { type: 'identifier' }>,
    cmd: ArgNode | CommandNode,
    args: readonly ArgNode[] | undefined,
    final: Value,
  ): Value {
    this.#at(node);
    const fn = this.#funcs[node.name];
    if (!fn) this.#error(`${goQuote(node.name)} is not a defined function`);
    return this.#evalCall(dot, fn, node.name === 'and' || node.name === 'or', cmd, node.name, args, final);
  }

  #evalField(
    dot: Value,
    name: string,
    node: ArgNode,
    args: readonly ArgNode[] | undefined,
    final: Value,
    receiver: Value,
  ): Value {
    if (receiver === undefined) {
      if (this.#missingKey === 'error') this.#error(`nil data; no entry for key ${goQuote(name)}`);
      return undefined;
    }
    const typeName = goTypeName(receiver);
    if (receiver === null) this.#error(`nil pointer evaluating interface {}.${name}`);
    const kind = kindOf(receiver);
    if (kind === 'nilptr') this.#error(`nil pointer evaluating ${typeName}.${name}`);
    const hasArgs = (args !== undefined && args.length > 1) || final !== MISSING;
    if (kind === 'struct' || kind === 'map') {
      const member = receiver instanceof Map ? undefined : lookupMember(receiver as object, name);
      if (member?.found && typeof member.value === 'function') {
        const method = member.value as (...a: unknown[]) => unknown;
        return this.#evalCall(dot, methodFunc(method, receiver), false, node, name, args, final);
      }
      if (kind === 'struct') {
        if (member?.found) {
          if (hasArgs) this.#error(`${name} has arguments but cannot be invoked as function`);
          return member.value;
        }
      } else {
        if (hasArgs) this.#error(`${name} is not a method but has arguments`);
        const result = mapGet(receiver as object, name);
        if (result === undefined) {
          if (this.#missingKey === 'error') this.#error(`map has no entry for key ${goQuote(name)}`);
          if (this.#missingKey === 'zero') return null;
        }
        return result;
      }
    }
    if (kind === 'nilmap') {
      if (this.#missingKey === 'error') this.#error(`map has no entry for key ${goQuote(name)}`);
      return undefined;
    }
    this.#error(`can't evaluate field ${name} in type ${typeName}`);
  }

  #evalCall(
    dot: Value,
    fn: GoFunc,
    shortCircuit: boolean,
    node: PositionedNode,
    name: string,
    args: readonly ArgNode[] | undefined,
    final: Value,
  ): Value {
    const actual = args ? args.slice(1) : [];
    const numIn = actual.length + (final !== MISSING ? 1 : 0);
    const numFixed = fn.params.length;
    if (fn.variadic !== undefined) {
      if (numIn < numFixed) {
        this.#error(`wrong number of args for ${name}: want at least ${numFixed} got ${actual.length}`);
      }
    } else if (numIn !== numFixed) {
      this.#error(`wrong number of args for ${name}: want ${numFixed} got ${numIn}`);
    }
    if (shortCircuit) {
      // and/or evaluate their arguments only until the answer is known (Go 1.18).
      let value: Value;
      for (const arg of actual) {
        value = this.#evalArg(dot, 'any', arg);
        if (isTrue(value) === (name === 'or')) return value;
      }
      if (final !== MISSING) value = this.#validateType(final, 'any');
      return value;
    }
    const argv: Value[] = [];
    let i = 0;
    for (; i < numFixed && i < actual.length; i++) argv.push(this.#evalArg(dot, fn.params[i]!, actual[i]!));
    if (fn.variadic !== undefined) {
      for (; i < actual.length; i++) argv.push(this.#evalArg(dot, fn.variadic, actual[i]!));
    }
    if (final !== MISSING) {
      const type = fn.variadic !== undefined && numIn - 1 >= numFixed ? fn.variadic : fn.params[numIn - 1]!;
      argv.push(this.#validateType(final, type));
    }
    try {
      return (fn.call as (...a: unknown[]) => unknown)(...argv);
    } catch (error) {
      if (error instanceof TemplateExecError) throw error;
      this.#at(node);
      this.#error(`error calling ${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #validateType(value: Value, type: ParamType): Value {
    if (value === undefined) {
      if (type === 'any') return null;
      this.#error(`invalid value; expected ${type === 'float' ? 'float64' : type}`);
    }
    const kind = kindOf(value);
    const ok =
      type === 'any' ||
      (type === 'string' && kind === 'string') ||
      (type === 'bool' && kind === 'bool') ||
      (type === 'int' && kind === 'int') ||
      (type === 'float' && (kind === 'float' || kind === 'int'));
    if (!ok) {
      this.#error(
        `wrong type for value; expected ${type === 'float' ? 'float64' : type}; got ${goTypeName(value)}`,
      );
    }
    return value;
  }

  #evalArg(dot: Value, type: ParamType, node: ArgNode, untyped = false): Value {
    this.#at(node);
    const check = (value: Value): Value => (untyped ? value : this.#validateType(value, type));
    switch (node.type) {
      case 'dot':
        return check(dot);
      case 'nil':
        if (type === 'any') return null;
        return this.#error(`cannot assign nil to ${type}`);
      case 'field':
        return check(this.#evalFieldNode(dot, node, [node], MISSING));
      case 'variable':
        return check(this.#evalVariableNode(dot, node, undefined, MISSING));
      case 'pipe':
        return check(this.#evalPipeline(dot, node));
      case 'identifier':
        return check(this.#evalFunction(dot, node, node, undefined, MISSING));
      case 'chain':
        return check(this.#evalChainNode(dot, node, undefined, MISSING));
    }
    const found = argString(node);
    switch (type) {
      case 'bool':
        if (node.type === 'bool') return node.value;
        return this.#error(`expected bool; found ${found}`);
      case 'string':
        if (node.type === 'string') return node.value;
        return this.#error(`expected string; found ${found}`);
      case 'int':
        if (node.type === 'number' && node.isInt) return node.value;
        return this.#error(`expected integer; found ${found}`);
      case 'float':
        if (node.type === 'number') return Number(node.value);
        return this.#error(`expected float; found ${found}`);
      case 'any':
        return node.type === 'number' ? idealConstant(node) : node.value;
    }
  }

  #printValue(node: Node, value: Value): void {
    this.#at(node);
    if (value === undefined) {
      this.out.push('<no value>');
      return;
    }
    if (typeof value === 'function') this.#error(`can't print ${nodeString(node)} of type func`);
    this.out.push(formatValue(value, 'v'));
  }
}

/** A number literal's value: float syntax (`1.0`, `1e6`) makes a float64 even when whole. */
function idealConstant(node: Extract<ArgNode, { type: 'number' }>): Value {
  return node.isFloatSyntax && Number.isInteger(node.value) ? new GoFloat(Number(node.value)) : node.value;
}

function isArgNode(node: PositionedNode): node is ArgNode | CommandNode | PipeNode {
  return [
    'field',
    'variable',
    'chain',
    'identifier',
    'dot',
    'nil',
    'bool',
    'number',
    'string',
    'pipe',
    'command',
  ].includes(node.type);
}

/** A JS method as a Go method: as many `any` parameters as the function declares. */
function methodFunc(method: (...a: unknown[]) => unknown, receiver: unknown): GoFunc {
  return {
    params: Array.from({ length: method.length }, () => 'any' as const),
    call: (...args: never[]) => method.apply(receiver, args),
  };
}

/** Go's `fmt.Sprint` of template arguments: missing and nil values read `<no value>`. */
function evalArgs(args: readonly unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((arg) => (arg === undefined || arg === null ? '<no value>' : arg)));
}

function basicKind(value: unknown): 'bool' | 'int' | 'float' | 'string' | undefined {
  const kind = kindOf(value);
  return kind === 'bool' || kind === 'int' || kind === 'float' || kind === 'string' ? kind : undefined;
}

function equal(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  const aNil = a === null || a === undefined || a instanceof GoNil;
  const bNil = b === null || b === undefined || b instanceof GoNil;
  const numeric = (k: string | undefined): boolean => k === 'int' || k === 'float';
  if (ka !== kb && !(numeric(ka) && numeric(kb))) {
    if (aNil || bNil) return aNil && bNil;
    if (ka && kb) throw new Error('incompatible types for comparison');
  }
  if (ka && kb) return ka === 'int' || ka === 'float' ? Number(a) === Number(b) : a === b;
  if (aNil || bNil) return aNil && bNil;
  const kind = kindOf(a);
  if (kind === 'slice' || kind === 'map' || kind === 'func') {
    throw new Error(`non-comparable type ${formatValue(a, 'v')}: ${goTypeName(a)}`);
  }
  return a === b;
}

function less(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (!ka || !kb) throw new Error('invalid type for comparison');
  const numeric = (k: string): boolean => k === 'int' || k === 'float';
  if (ka !== kb && !(numeric(ka) && numeric(kb))) throw new Error('incompatible types for comparison');
  if (ka === 'bool') throw new Error('invalid type for comparison');
  if (ka === 'string') return (a as string) < (b as string);
  return Number(a) < Number(b);
}

function length(item: unknown): number {
  switch (kindOf(item)) {
    case 'invalid':
    case 'nil':
      throw new Error('len of untyped nil');
    case 'nilptr':
      throw new Error('len of nil pointer');
    case 'nilslice':
    case 'nilmap':
      return 0;
    case 'string':
      return Buffer.byteLength(item as string);
    case 'slice':
      return (item as ArrayLike<unknown>).length;
    case 'map':
      return mapSize(item as object);
    default:
      throw new Error(`len of type ${goTypeName(item)}`);
  }
}

function indexArg(index: unknown, cap: number): number {
  if (kindOf(index) !== 'int') {
    if (index === null || index === undefined) throw new Error('cannot index slice/array with nil');
    throw new Error(`cannot index slice/array with type ${goTypeName(index)}`);
  }
  const x = Number(index);
  if (x < 0 || x >= cap) throw new Error(`index out of range: ${x}`);
  return x;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new Error('index of untyped nil');
  for (const key of indexes) {
    switch (kindOf(item)) {
      case 'nilptr':
        throw new Error('index of nil pointer');
      case 'string': {
        const bytes = Buffer.from(item as string);
        item = bytes[indexArg(key, bytes.length)];
        break;
      }
      case 'slice': {
        const items = item as ArrayLike<unknown>;
        item = items[indexArg(key, items.length)];
        break;
      }
      case 'nilslice':
        indexArg(key, 0);
        break;
      case 'map':
      case 'nilmap': {
        if (item instanceof GoNil) return '';
        const map = item as object;
        if (!(map instanceof Map) && typeof key !== 'string') {
          throw new Error(`value has type ${goTypeName(key)}; should be string`);
        }
        const found = mapGet(map, key);
        if (found !== undefined) {
          item = found;
          break;
        }
        // The zero value of the map's element type: "" for string maps (labels, the common
        // case), nil for maps of anything.
        const values = map instanceof Map ? [...map.values()] : Object.values(map);
        return values.every((v) => typeof v === 'string') ? '' : null;
      }
      default:
        throw new Error(`can't index item of type ${goTypeName(item)}`);
    }
  }
  return item;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  const kind = kindOf(item);
  if (kind !== 'string' && kind !== 'slice' && kind !== 'nilslice') {
    throw new Error(`can't slice item of type ${goTypeName(item)}`);
  }
  if (kind === 'string' && indexes.length === 3) throw new Error('cannot 3-index slice a string');
  const whole: ArrayLike<unknown> | Buffer =
    kind === 'string' ? Buffer.from(item as string) : kind === 'nilslice' ? [] : (item as ArrayLike<unknown>);
  const bounds = [0, whole.length];
  indexes.forEach((ix, i) => {
    const x = indexArg(ix, whole.length + 1);
    bounds[i] = x;
  });
  const [lo, hi] = bounds as [number, number];
  if (lo > hi) throw new Error(`invalid slice index: ${lo} > ${hi}`);
  if (kind === 'string') return (whole as Buffer).subarray(lo, hi).toString('utf8');
  return Array.from(whole).slice(lo, hi);
}

const HTML_ESCAPES: Record<string, string> = {
  '"': '&#34;',
  "'": '&#39;',
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '\0': '\uFFFD',
};

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (cp < 0x20) out += `\\u00${cp.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (cp >= 0x80 && !/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) {
      out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    } else out += ch;
  }
  return out;
}

/** Go's `url.QueryEscape`. */
function queryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s)) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Go's predefined template functions. */
export const BUILTINS: FuncMap = {
  and: { params: ['any'], variadic: 'any', call: () => undefined },
  or: { params: ['any'], variadic: 'any', call: () => undefined },
  not: { params: ['any'], call: (arg: unknown) => !isTrue(arg) },
  call: {
    params: ['any'],
    variadic: 'any',
    call: (fn: unknown, ...args: unknown[]) => {
      if (fn === undefined || fn === null) throw new Error('call of nil');
      if (typeof fn !== 'function') throw new Error(`non-function of type ${goTypeName(fn)}`);
      return fn(...args);
    },
  },
  html: {
    params: [],
    variadic: 'any',
    call: (...args: unknown[]) => evalArgs(args).replace(/["'&<>\0]/g, (c) => HTML_ESCAPES[c]!),
  },
  js: { params: [], variadic: 'any', call: (...args: unknown[]) => jsEscape(evalArgs(args)) },
  urlquery: { params: [], variadic: 'any', call: (...args: unknown[]) => queryEscape(evalArgs(args)) },
  index: { params: ['any'], variadic: 'any', call: index },
  slice: { params: ['any'], variadic: 'any', call: slice },
  len: { params: ['any'], call: length },
  print: { params: [], variadic: 'any', call: (...args: unknown[]) => evalArgs(args) },
  printf: {
    params: ['string'],
    variadic: 'any',
    call: (format: string, ...args: unknown[]) => sprintf(format, args),
  },
  println: {
    params: [],
    variadic: 'any',
    call: (...args: unknown[]) =>
      sprintln(args.map((arg) => (arg === undefined || arg === null ? '<no value>' : arg))),
  },
  eq: {
    params: ['any'],
    variadic: 'any',
    call: (a: unknown, ...rest: unknown[]) => {
      if (rest.length === 0) throw new Error('missing argument for comparison');
      return rest.some((b) => equal(a, b));
    },
  },
  ne: { params: ['any', 'any'], call: (a: unknown, b: unknown) => !equal(a, b) },
  lt: { params: ['any', 'any'], call: (a: unknown, b: unknown) => less(a, b) },
  le: { params: ['any', 'any'], call: (a: unknown, b: unknown) => less(a, b) || equal(a, b) },
  gt: { params: ['any', 'any'], call: (a: unknown, b: unknown) => !(less(a, b) || equal(a, b)) },
  ge: { params: ['any', 'any'], call: (a: unknown, b: unknown) => !less(a, b) },
};
