/**
 * Build progress in BuildKit's vocabulary: a build is a list of *vertices* (`[internal] load
 * build context`, `[2/5] COPY . .`, `exporting to image`), numbered in the order they start; each
 * gets status lines, log output (a RUN's stdout and stderr) and an end: `DONE 0.4s`, `CACHED` or
 * `ERROR: ...`. The builder reports events; a printer turns them into text.
 *
 * `PlainProgressPrinter` writes what `docker build --progress=plain` prints:
 *
 *   #5 [2/4] COPY . .
 *   #5 DONE 0.1s
 *
 *   #6 [3/4] RUN echo hi
 *   #6 0.231 hi
 *   #6 DONE 0.3s
 *
 * Vertices of stages built in parallel interleave; every line carries its `#N`, and the header is
 * repeated when another vertex wrote in between (as BuildKit's printer does).
 *
 * @example
 * const progress = new BuildProgress(new PlainProgressPrinter(process.stderr));
 * const v = progress.start('[internal] load build context');
 * v.status('transferring context: 2.1MB done');
 * v.done();
 */

/** One line of a vertex's log, kept for the error summary. */
export interface LogLine {
  /** Seconds since the vertex started. */
  at: number;
  text: string;
}

export interface ProgressPrinter {
  start(id: number, name: string): void;
  status(id: number, name: string, text: string): void;
  log(id: number, name: string, line: LogLine): void;
  end(
    id: number,
    name: string,
    outcome: { kind: 'done' | 'cached' | 'error'; seconds: number; message?: string },
  ): void;
}

/** A vertex in progress. */
export class Vertex {
  readonly id: number;
  readonly name: string;
  readonly #printer: ProgressPrinter;
  readonly #started = performance.now();
  /** The last lines of output, for the failure summary. */
  readonly tail: LogLine[] = [];
  #partial = '';
  #ended = false;
  /** Secret values replaced by `****` in every line this vertex shows or keeps. */
  #masks: string[] = [];

  constructor(id: number, name: string, printer: ProgressPrinter) {
    this.id = id;
    this.name = name;
    this.#printer = printer;
    printer.start(id, name);
  }

  get seconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  status(text: string): void {
    this.#printer.status(this.id, this.name, text);
  }

  /** Output bytes of the step (split into lines; a partial line waits for its end). */
  output(chunk: Buffer | string): void {
    const text = this.#partial + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }

  /**
   * Hides `values` (a step's secrets) from its output: each becomes `****` in the lines printed
   * and kept for the failure summary. Values shorter than 3 characters are left alone (masking
   * them would garble every line); a secret should be longer than that anyway.
   */
  mask(values: readonly string[]): void {
    for (const value of values) {
      for (const line of value.split('\n')) {
        if (line.trim().length >= 3 && !this.#masks.includes(line)) this.#masks.push(line);
      }
    }
    // longest first, so a value containing another is masked whole
    this.#masks.sort((a, b) => b.length - a.length);
  }

  #line(raw: string): void {
    let text = raw;
    for (const value of this.#masks) text = text.replaceAll(value, '****');
    const line = { at: this.seconds, text: text.replace(/\r$/, '') };
    this.tail.push(line);
    if (this.tail.length > 12) this.tail.shift();
    this.#printer.log(this.id, this.name, line);
  }

  #flush(): void {
    if (this.#partial !== '') {
      const rest = this.#partial;
      this.#partial = '';
      this.#line(rest);
    }
  }

  done(): void {
    this.#end('done');
  }

  cached(): void {
    this.#end('cached');
  }

  error(message: string): void {
    this.#end('error', message);
  }

  #end(kind: 'done' | 'cached' | 'error', message?: string): void {
    if (this.#ended) return;
    this.#flush();
    this.#ended = true;
    this.#printer.end(this.id, this.name, {
      kind,
      seconds: this.seconds,
      ...(message !== undefined ? { message } : {}),
    });
  }
}

/** Numbers vertices and hands them to the printer. */
export class BuildProgress {
  readonly #printer: ProgressPrinter;
  #next = 1;

  constructor(printer: ProgressPrinter) {
    this.#printer = printer;
  }

  start(name: string): Vertex {
    return new Vertex(this.#next++, name, this.#printer);
  }
}

interface Stream {
  write(text: string): unknown;
}

/** `--progress=plain`: BuildKit's plain text printer. */
export class PlainProgressPrinter implements ProgressPrinter {
  readonly #out: Stream;
  /** The vertex that wrote last, so a header is repeated when output switches vertices. */
  #current = 0;

  constructor(out: Stream) {
    this.#out = out;
  }

  #switchTo(id: number, name: string): void {
    if (this.#current === id) return;
    this.#out.write(`\n#${id} ${name}\n`);
    this.#current = id;
  }

  start(id: number, name: string): void {
    this.#switchTo(id, name);
  }

  status(id: number, name: string, text: string): void {
    this.#switchTo(id, name);
    this.#out.write(`#${id} ${text}\n`);
  }

  log(id: number, name: string, line: LogLine): void {
    this.#switchTo(id, name);
    this.#out.write(`#${id} ${line.at.toFixed(3)} ${line.text}\n`);
  }

  end(
    id: number,
    name: string,
    outcome: { kind: 'done' | 'cached' | 'error'; seconds: number; message?: string },
  ): void {
    this.#switchTo(id, name);
    if (outcome.kind === 'cached') this.#out.write(`#${id} CACHED\n`);
    else if (outcome.kind === 'done') this.#out.write(`#${id} DONE ${outcome.seconds.toFixed(1)}s\n`);
    else this.#out.write(`#${id} ERROR: ${outcome.message ?? 'failed'}\n`);
  }
}

/** `--progress=quiet` (and `-q`): nothing. */
export class QuietProgressPrinter implements ProgressPrinter {
  start(): void {}
  status(): void {}
  log(): void {}
  end(): void {}
}
