/**
 * A build step that failed, with what BuildKit's client prints about it: the step's name, its
 * last lines of output, and the Dockerfile lines it came from (errdefs.Source.Print):
 *
 *   ------
 *    > [2/2] RUN exit 3:
 *   0.051 hello
 *   ------
 *   Dockerfile:2
 *   --------------------
 *      1 |     FROM busybox
 *      2 | >>> RUN exit 3
 *      3 |
 *   --------------------
 *   ERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3
 *
 * @example
 * try { await builder.build(request); } catch (e) { if (e instanceof BuildStepError) stderr.write(e.report()); }
 */
import { FailedPreconditionError } from '../errors/index.ts';
import type { LogLine } from './progress.ts';

export interface DockerfileSource {
  file: string;
  text: string;
  startLine: number;
  endLine: number;
}

/** errdefs.Source.Print: the instruction's lines with some context, marked `>>>`. */
export function printSource(source: DockerfileSource): string {
  const lines = source.text.split('\n');
  let start = source.startLine;
  let end = Math.max(source.endLine, source.startLine);
  if (start < 1 || start > lines.length) return '';
  if (end > lines.length) end = lines.length;
  const pad = end === start ? 4 : 2;
  const firstLine = start;
  let p = 0;
  while (p < pad) {
    if (start > 1) {
      start--;
      p++;
    }
    if (end !== lines.length) {
      end++;
      p++;
    }
    p++;
  }
  let out = `${source.file}:${firstLine}\n--------------------\n`;
  for (let i = start; i <= end; i++) {
    const marker = i >= source.startLine && i <= Math.max(source.endLine, source.startLine) ? '>>>' : '   ';
    out += ` ${String(i).padStart(3)} | ${marker} ${lines[i - 1]}\n`;
  }
  return `${out}--------------------\n`;
}

export class BuildStepError extends FailedPreconditionError {
  /** The step as progress named it (`[2/2] RUN exit 3`). */
  readonly step: string;
  readonly tail: readonly LogLine[];
  readonly source: DockerfileSource | undefined;
  /** The process's exit code, for a RUN that failed. */
  readonly exitCode: number | undefined;

  constructor(
    message: string,
    details: {
      step: string;
      tail?: readonly LogLine[];
      source?: DockerfileSource;
      exitCode?: number;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.step = details.step;
    this.tail = details.tail ?? [];
    this.source = details.source;
    this.exitCode = details.exitCode;
  }

  /** The text the docker CLI prints after a failed build. */
  report(): string {
    let out = `------\n > ${this.step}:\n`;
    for (const line of this.tail.slice(-10)) out += `${line.at.toFixed(3)} ${line.text}\n`;
    out += '------\n';
    if (this.source) out += printSource(this.source);
    return `${out}ERROR: failed to solve: ${this.message}\n`;
  }
}
