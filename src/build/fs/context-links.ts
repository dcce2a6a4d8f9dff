/**
 * Hard-linked COPY: the regular files a context COPY writes become hard links of the context's
 * own files in the step's upper directory, instead of copies of their bytes made through the
 * overlay mount. Creating a file is what a copy costs on these machines (2,000 files of 10 KiB:
 * 0.4-1.3 s; linking them: 30-40 ms), and the daemon has just created every file of an uploaded
 * context in its context slot: without this, a cold build through the API creates them twice.
 *
 * Only for a context whose owner promises never to change one of its files in place once it may
 * have another name (BuildRequest.linkContext: the daemon's context slots, whose sync replaces a
 * file rather than write, chmod or touch one with several names; see src/daemon/context-sync.ts).
 * Committed snapshots never change either (overlayfs never writes a lower directory), so a layer
 * that shares an inode with the slot stays what it was built as, whatever is uploaded later.
 *
 * A file is linked only when the link is exactly what the copy would have made: a regular file
 * owned 0:0 (the copy writes context files as 0:0), without `--chown` or `--chmod` (the inode's
 * own mode and mtime are what the copy sets), with one name in the context (a hard link inside
 * the context is copied as such). Its mode, owner, size, bytes and mtime are then the copy's;
 * what differs is the inode's link count and ctime, which no layer records.
 *
 * And only once: a file no layer has yet (one name in all), planned by no other COPY of the
 * build (`claimed`). Overlayfs shows a lower file with its real inode number, so one inode
 * under two paths of an image (two COPY of one file, or an image built FROM one that has it)
 * would look like a hard link to whatever runs there (`tar`, `cp -a`, `du`); in one layer it
 * would even become a tar hard link. Such files are copied, as they would be without links.
 *
 * How, in three moments of the step:
 * - while the copier runs through the mounted snapshot, a linkable file is only *planned*: the
 *   copier asks this plan before each stat of a target, so a planned file is a file for every
 *   later decision (replaced by another file, refusing a directory), exactly as if it were there;
 * - before the unmount, `prepare` makes sure each planned file's parent directory is in the
 *   upper directory (a parent only in a lower layer is copied up by setting its own times on it
 *   again, what creating the file in it would have copied up first);
 * - after the unmount (overlayfs allows no change to its upper directory while mounted), `apply`
 *   links each file into the upper directory (over the whiteout a replaced lower file left) and
 *   puts back the times of the directories the copier dated after their last planned change
 *   (linking moved them); a directory changed last by a planned file keeps the present time, as
 *   the file's creation would have left it. A link across file systems (EXDEV) is a copy.
 *
 * @example
 * const links = new ContextLinks(rootfs, (src) => linkableFile(index, src), claimedByTheBuild);
 * new Copier(rootfs, { links }).copy(tree, 'src', '/app/');
 * links.prepare(upper);   // still mounted
 * links.apply(upper);     // after the unmount
 */
import {
  closeSync,
  constants,
  fchmodSync,
  futimesSync,
  linkSync,
  lstatSync,
  openSync,
  type Stats,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { InvalidArgumentError, isErrno } from '../../errors/index.ts';
import { copyFdBytes, lstatOrUndefined } from '../../util/sync-fs.ts';
import type { SourceStat } from './source-tree.ts';

interface PlannedFile {
  /** The context file (absolute) the target links to. */
  source: string;
  stat: SourceStat;
}

const dirnameOf = (path: string): string => path.slice(0, path.lastIndexOf('/'));

export class ContextLinks {
  readonly #root: string;
  readonly #linkable: (src: string) => string | undefined;
  /** Planned targets (absolute, under the mount) -> what they link to. */
  readonly #files = new Map<string, PlannedFile>();
  /** Context files (absolute) planned by this build, this step or another. */
  readonly #claimed: Set<string>;
  /**
   * Directories (absolute, under the mount) with a planned change: true when the copier set
   * their times after the last one (to be put back after linking), false when a planned file
   * came or went since.
   */
  readonly #directories = new Map<string, boolean>();
  #applied = false;

  /**
   * `root` is the mounted snapshot the copier writes into; `linkable(src)` answers the absolute
   * path of the context file `src` (relative to the context) when it may be linked, else
   * undefined (see the file comment for when); `claimed` holds the context files the build has
   * planned as links so far, shared by its steps.
   */
  constructor(root: string, linkable: (src: string) => string | undefined, claimed: Set<string>) {
    this.#root = root;
    this.#linkable = linkable;
    this.#claimed = claimed;
  }

  /** Files planned (for progress and tests). */
  get size(): number {
    return this.#files.size;
  }

  /** True when `target` (absolute, under the mount) is a planned file. */
  has(target: string): boolean {
    return this.#files.has(target);
  }

  /**
   * Plans `target` as a link of the context file `src` when it may be one; false when the
   * copier must copy it itself.
   */
  plan(src: string, stat: SourceStat, target: string): boolean {
    if (this.#applied || !target.startsWith(`${this.#root}/`)) return false;
    const source = this.#linkable(src);
    if (source === undefined || this.#claimed.has(source)) return false;
    this.#claimed.add(source);
    this.#files.set(target, { source, stat });
    this.#directories.set(dirnameOf(target), false);
    return true;
  }

  /** A planned file replaced (the copier removes what is at a path before writing it). */
  drop(target: string): void {
    const planned = this.#files.get(target);
    if (!planned) return;
    this.#files.delete(target);
    this.#claimed.delete(planned.source);
    this.#directories.set(dirnameOf(target), false);
  }

  /** The copier set the times of directory `dir` (absolute, under the mount). */
  dated(dir: string): void {
    if (this.#directories.has(dir)) this.#directories.set(dir, true);
  }

  /**
   * While the snapshot is still mounted: every planned file's parent directory made present in
   * `upper` (the snapshot's upper directory), copied up from the lower layers when it is not.
   */
  prepare(upper: string): void {
    for (const dir of this.#directories.keys()) {
      const rel = dir.slice(this.#root.length);
      if (lstatOrUndefined(`${upper}${rel}`)?.isDirectory()) continue;
      // setting a directory's own times again copies it up (with its parents) and changes
      // nothing a layer records: the link made into it later dates it now, as a new file would
      const st = lstatSync(dir);
      utimesSync(dir, st.atime, st.mtime);
      if (!lstatOrUndefined(`${upper}${rel}`)?.isDirectory())
        throw new InvalidArgumentError(`Cannot link context files into ${rel}: it is not in the layer`);
    }
  }

  /** After the unmount: the planned files linked into `upper`, and directory times put back. */
  apply(upper: string): void {
    this.#applied = true;
    const times: Array<{ path: string; st: Stats }> = [];
    for (const [dir, datedLast] of this.#directories) {
      if (!datedLast) continue;
      const path = `${upper}${dir.slice(this.#root.length)}`;
      times.push({ path, st: lstatSync(path) });
    }
    for (const [target, planned] of this.#files) {
      const path = `${upper}${target.slice(this.#root.length)}`;
      try {
        linkSync(planned.source, path);
      } catch (error) {
        if (isErrno(error, 'EEXIST')) {
          // the whiteout of a lower file the copier removed to write this one
          const st = lstatSync(path);
          if (!st.isCharacterDevice() || st.rdev !== 0)
            throw new InvalidArgumentError(
              `Cannot link ${target.slice(this.#root.length)} into the layer: something else is there`,
            );
          unlinkSync(path);
          linkOrCopy(planned, path);
        } else if (isErrno(error, 'EXDEV')) copyFile(planned, path);
        else throw error;
      }
    }
    for (const { path, st } of times) utimesSync(path, st.atime, st.mtime);
  }
}

function linkOrCopy(planned: PlannedFile, path: string): void {
  try {
    linkSync(planned.source, path);
  } catch (error) {
    if (!isErrno(error, 'EXDEV')) throw error;
    copyFile(planned, path);
  }
}

/** The copier's own copy of a file (bytes, mode, times), for a context on another file system. */
function copyFile(planned: PlannedFile, target: string): void {
  const input = openSync(planned.source, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const output = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      copyFdBytes(input, output);
      fchmodSync(output, planned.stat.mode & 0o7777);
      futimesSync(output, planned.stat.atimeMs / 1000, planned.stat.mtimeMs / 1000);
    } finally {
      closeSync(output);
    }
  } finally {
    closeSync(input);
  }
}
