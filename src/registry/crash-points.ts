/**
 * Named places in the write paths where the crash test kills the server (kill -9 from inside,
 * so the moment is exact: between the rename of a blob and its metadata row, in the middle of a
 * chunk...). Set `WHARF_REGISTRY_CRASH_AT=<name>` or `<name>#<n>` (the n-th time the point is
 * reached) in the server's environment; unset, `crashPoint` is one comparison.
 *
 * @example
 * await driver.move(uploadPath, blobPath);
 * crashPoint('blob.after-move');
 */
const setting = process.env.WHARF_REGISTRY_CRASH_AT;
const [armedName, armedCount] = parseSetting(setting);
let hits = 0;

/** Every crash point the registry has, for the crash test to iterate over. */
export const CRASH_POINTS = [
  'upload.before-row',
  'upload.after-row',
  'chunk.mid-body',
  'chunk.after-write',
  'commit.before-fsync',
  'commit.after-fsync',
  'commit.before-move',
  'commit.after-move',
  'commit.after-row',
  'commit.after-cleanup',
  'manifest.mid-body',
  'manifest.before-payload',
  'manifest.after-payload',
  'manifest.after-row',
  'mount.after-row',
  'tag-delete.after-row',
  'manifest-delete.after-row',
  'blob-delete.after-row',
  'blob-delete.after-remove',
  'upload-cancel.after-row',
  'recovery.mid-sweep',
] as const;

/** Crash points of the garbage collector (its own kill test runs them; the push crash test does not). */
export const GC_CRASH_POINTS = ['gc.after-review', 'gc.after-unlink', 'gc.mid-uploads'] as const;

export type CrashPointName = (typeof CRASH_POINTS)[number] | (typeof GC_CRASH_POINTS)[number];

/** Kills the process with SIGKILL when this point is the armed one (and its count is reached). */
export function crashPoint(name: CrashPointName): void {
  if (armedName !== name) return;
  hits++;
  if (hits >= armedCount) process.kill(process.pid, 'SIGKILL');
}

function parseSetting(value: string | undefined): [string | undefined, number] {
  if (!value) return [undefined, 0];
  const hash = value.indexOf('#');
  if (hash < 0) return [value, 1];
  return [value.slice(0, hash), Math.max(1, Number.parseInt(value.slice(hash + 1), 10) || 1)];
}
