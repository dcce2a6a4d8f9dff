/**
 * Go's `text/tabwriter` (in Docker's fork, which measures cells in terminal columns), for the
 * whole text at once: what Docker's tables get from `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`
 * followed by `Flush`.
 *
 * Cells end at tabs; the text after a line's last tab is not part of any column. A column is a
 * run of consecutive lines that all have a cell in it; its width is the widest cell plus the
 * padding, at least `minWidth`. A line with fewer cells ends the run, so columns to its right
 * are measured afresh below it.
 */
import { displayWidth } from './units.ts';

export interface TabWriterOptions {
  minWidth: number;
  padding: number;
  padChar?: string;
}

/** Docker's table settings: minimum width 10, padding 3, spaces. */
export const DOCKER_TABLE: TabWriterOptions = { minWidth: 10, padding: 3, padChar: ' ' };

interface Cell {
  text: string;
  width: number;
}

/**
 * Aligns the tab-separated cells of `text` into columns.
 *
 * @example
 * alignColumns('REPOSITORY\tTAG\nbusybox\tlatest\n', DOCKER_TABLE);
 * // 'REPOSITORY   TAG\nbusybox      latest\n'
 */
export function alignColumns(text: string, options: TabWriterOptions = DOCKER_TABLE): string {
  const lines: Cell[][] = text
    .split('\n')
    .map((line) => line.split(/[\t\v]/).map((cell) => ({ text: cell, width: displayWidth(cell) })));
  const out: string[] = [];
  const padChar = options.padChar ?? ' ';
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      line.forEach((cell, j) => {
        out.push(cell.text);
        if (j < widths.length) out.push(padChar.repeat(Math.max(widths[j]! - cell.width, 0)));
      });
      if (i + 1 < lines.length) out.push('\n');
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let current = line0; current < line1; current++) {
      if (column >= lines[current]!.length - 1) continue;
      // A block of lines with a cell in this column starts here.
      writeLines(line0, current);
      line0 = current;
      let width = options.minWidth;
      for (; current < line1; current++) {
        const line = lines[current]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + options.padding);
      }
      widths.push(width);
      format(line0, current);
      widths.pop();
      line0 = current;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('');
}
