/**
 * Renders progress events (src/distribution/progress.ts) as the docker CLI does. On a terminal
 * each layer keeps its own line, redrawn in place with ANSI cursor moves:
 *
 *   a1b2c3d4e5f6: Downloading [=====>                                             ]  12.3MB/45.6MB 3s
 *   0f9e8d7c6b5a: Pull complete
 *
 * Elsewhere (a pipe, a log file) each status becomes one plain line and byte counts are left
 * out, as `docker pull | cat` shows: `a1b2c3d4e5f6: Download complete`.
 *
 * @example
 * const renderer = new ProgressRenderer(process.stderr);
 * await engine.transfer.pull(ref, { progress: (event) => renderer.write(event) });
 */
import type { ProgressEvent } from '../../distribution/progress.ts';
import { humanSize } from '../format/units.ts';

const BAR_WIDTH = 50;

interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Docker's `JSONProgress.String`: `[===>   ]  12.3MB/45.6MB 3s` (the bar only on wide terminals). */
export function formatProgress(
  current: number,
  total: number | undefined,
  width: number,
  secondsLeft?: number,
): string {
  if (total === undefined || total <= 0) return humanSize(current).padStart(8);
  let bar = '';
  if (width > 110) {
    const filled = Math.min(BAR_WIDTH, Math.floor(((current / total) * 100) / 2));
    bar = `[${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled)}] `;
  }
  const numbers =
    current <= total
      ? `${humanSize(current).padStart(8)}/${humanSize(total)}`
      : humanSize(current).padStart(8);
  const left =
    width > 50 && secondsLeft !== undefined && current < total ? ` ${goDuration(secondsLeft)}` : '';
  return `${bar}${numbers}${left}`;
}

/** Go's `time.Duration.String` of whole seconds: `45s`, `1m5s`, `2h0m1s`. */
function goDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${m}m${r}s`;
  if (m > 0) return `${m}m${r}s`;
  return `${r}s`;
}

export class ProgressRenderer {
  readonly #out: Stream;
  readonly #tty: boolean;
  /** Line of each id in the current block, from the top. */
  #lines = new Map<string, number>();
  /** When each id's byte count started, for the time left. */
  readonly #started = new Map<string, { at: number; bytes: number }>();

  constructor(out: Stream, options: { tty?: boolean } = {}) {
    this.#out = out;
    this.#tty = options.tty ?? out.isTTY === true;
  }

  write(event: ProgressEvent): void {
    if (!this.#tty) {
      if (event.progressDetail) return;
      this.#out.write(event.id ? `${event.id}: ${event.status}\n` : `${event.status}\n`);
      return;
    }
    const width = this.#out.columns ?? 120;
    if (!event.id) {
      this.#lines = new Map();
      this.#out.write(`${event.status}\n`);
      return;
    }
    let text = `${event.id}: ${event.status}`;
    if (event.progressDetail) {
      const { current, total } = event.progressDetail;
      text += ` ${formatProgress(current, total, width, this.#secondsLeft(event.id, current, total))}`;
    } else {
      this.#started.delete(event.id);
    }
    // a line longer than the terminal would wrap and spoil the cursor arithmetic
    if (text.length >= width) text = text.slice(0, width - 1);
    const line = this.#lines.get(event.id);
    if (line === undefined) {
      this.#lines.set(event.id, this.#lines.size);
      this.#out.write(`\x1b[2K\r${text}\n`);
      return;
    }
    const up = this.#lines.size - line;
    this.#out.write(`\x1b[${up}A\x1b[2K\r${text}\r\x1b[${up}B`);
  }

  #secondsLeft(id: string, current: number, total: number | undefined): number | undefined {
    const now = Date.now();
    const start = this.#started.get(id);
    if (!start) {
      this.#started.set(id, { at: now, bytes: current });
      return undefined;
    }
    const elapsed = (now - start.at) / 1000;
    const done = current - start.bytes;
    if (total === undefined || elapsed <= 0 || done <= 0) return undefined;
    return ((total - current) * elapsed) / done;
  }
}
