/**
 * The rows of `history`, as Docker's `historyContext` makes them: `IMAGE CREATED CREATED BY SIZE
 * COMMENT`, with `-H=false` switching dates to RFC 3339 and sizes to bytes, and CREATED BY cut to
 * 45 columns unless `--no-trunc`.
 */
import { DEFAULT_QUIET_FORMAT, listingRow, TABLE_FORMAT } from './formatter.ts';
import { ellipsis, humanDuration, humanSize, rfc3339, truncateId } from './units.ts';

/** The fields of Docker's `HistoryResponseItem` that `history` shows. */
export interface HistoryItemLike {
  Id: string;
  /** Unix seconds. */
  Created: number;
  CreatedBy: string;
  Size: number;
  Comment: string;
}

export interface HistoryRow {
  ID: string;
  CreatedSince: string;
  CreatedAt: string;
  CreatedBy: string;
  Size: string;
  Comment: string;
}

export const DEFAULT_HISTORY_TABLE =
  'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
export const NON_HUMAN_HISTORY_TABLE =
  'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

export const HISTORY_HEADER = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** Before this (2000-01-01), a creation date is shown as N/A: images with no real date. */
const EPOCH_SECONDS = Date.UTC(2000, 0, 1) / 1000;

/** Docker's `newHistoryFormat`. */
export function historyFormat(source: string, quiet: boolean, human: boolean): string {
  if (source !== TABLE_FORMAT) return source;
  if (quiet) return DEFAULT_QUIET_FORMAT;
  return human ? DEFAULT_HISTORY_TABLE : NON_HUMAN_HISTORY_TABLE;
}

/**
 * One `history` row.
 *
 * @example
 * historyRow({ Id: '<missing>', Created: 0, CreatedBy: '/bin/sh', Size: 0, Comment: '' }, { trunc: true, human: true });
 */
export function historyRow(
  item: HistoryItemLike,
  options: { trunc: boolean; human: boolean; now?: Date },
): HistoryRow {
  const created = new Date(item.Created * 1000);
  const createdAt = rfc3339(created);
  const createdBy = item.CreatedBy.replace(/\t/g, ' ');
  let createdSince = createdAt;
  if (options.human) {
    createdSince =
      item.Created <= EPOCH_SECONDS
        ? 'N/A'
        : `${humanDuration((options.now ?? new Date()).getTime() - created.getTime())} ago`;
  }
  return listingRow('*image.historyContext', {
    ID: options.trunc ? truncateId(item.Id) : item.Id,
    CreatedSince: createdSince,
    CreatedAt: createdAt,
    CreatedBy: options.trunc ? ellipsis(createdBy, 45) : createdBy,
    Size: options.human ? humanSize(item.Size, 3) : String(item.Size),
    Comment: item.Comment,
  });
}
