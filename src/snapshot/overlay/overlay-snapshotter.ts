/**
 * The overlayfs snapshotter. A snapshot is a directory; an active snapshot's mount is an overlay
 * whose upper directory is that snapshot's `fs` and whose lower directories are its ancestors'
 * `fs`, nearest first. Committing does not copy anything: the upper directory simply becomes a
 * lower directory for children. A snapshot with no parent is a plain bind mount, and so is a view
 * of a single layer (read-only), since overlayfs needs two lower directories without an upper one.
 *
 * Layout of the root (`$WHARF_ROOT/snapshots/overlay`):
 *
 *     metadata.db                 SQLite (WAL): rows and labels, see metastore.ts
 *     snapshots/
 *       <id>/                     one per snapshot, id = row id (never reused)
 *         fs/                     upper dir while active; lower dir for children once committed
 *         work/                   overlayfs work dir (active snapshots only; removed at commit)
 *       new-<pid>-<rand>/         being created (swept at open when <pid> is gone)
 *       rm-<pid>-<id>-<rand>/     being deleted (likewise)
 *     l/
 *       <id in base 36> -> ../snapshots/<id>/fs
 *                                 short names for lowerdir=: 2-5 bytes a layer, so 500 layers
 *                                 (the kernel's limit) fit in the 4 KiB of mount options
 *                                 (mountAt makes them relative to l/ when the list is long)
 *
 * @example
 * const sn = await OverlaySnapshotter.open('/var/lib/wharf/snapshots/overlay');
 * const mounts = await sn.prepare('build-1', 'sha256:…');
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { FailedPreconditionError, isErrno } from '../../errors/index.ts';
import { DirectorySnapshotter } from '../directory-snapshotter.ts';
import type { SnapshotRow } from '../metastore.ts';
import type { Mount, SnapshotKind } from '../snapshotter.ts';

/** The kernel's limit on lower directories (OVL_MAX_STACK). */
const MAX_LOWERS = 500;

export class OverlaySnapshotter extends DirectorySnapshotter {
  readonly name = 'overlay';

  private constructor(root: string) {
    super(root);
    mkdirSync(`${this.root}/l`, { recursive: true, mode: 0o700 });
  }

  /** Opens (creating if needed) the snapshotter at `root` and sweeps what crashed processes left. */
  static async open(root: string): Promise<OverlaySnapshotter> {
    if (!overlaySupported())
      throw new FailedPreconditionError('Cannot use the overlay snapshotter: the kernel has no overlayfs');
    const snapshotter = new OverlaySnapshotter(root);
    await snapshotter.sweep();
    return snapshotter;
  }

  #link(id: number): string {
    return `${this.root}/l/${id.toString(36)}`;
  }

  protected override async populate(
    dir: string,
    kind: SnapshotKind,
    parent: SnapshotRow | undefined,
  ): Promise<void> {
    // synchronous, as the rest of this: two directories (see the create's mkdtemp)
    mkdirSync(`${dir}/fs`, { mode: 0o755 });
    if (kind === 'active') mkdirSync(`${dir}/work`, { mode: 0o700 });
    if (parent) {
      // The merged root takes the upper root's owner and mode: start from the parent's.
      const stats = statSync(this.fsDir(parent.id));
      chownSync(`${dir}/fs`, stats.uid, stats.gid);
      chmodSync(`${dir}/fs`, stats.mode & 0o7777);
    }
  }

  protected override afterCreate(row: SnapshotRow): void {
    const link = this.#link(row.id);
    try {
      symlinkSync(`../snapshots/${row.id}/fs`, link);
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      unlinkSync(link); // a leftover of a rolled-back id
      symlinkSync(`../snapshots/${row.id}/fs`, link);
    }
  }

  protected override afterRemove(row: SnapshotRow): void {
    rmSync(this.#link(row.id), { force: true });
  }

  protected override async afterCommit(row: SnapshotRow): Promise<void> {
    await rm(`${this.snapshotDir(row.id)}/work`, { recursive: true, force: true });
  }

  protected override sweepExtra(ids: Set<number>): void {
    for (const name of readdirSync(`${this.root}/l`)) {
      const id = Number.parseInt(name, 36);
      if (!ids.has(id) || id.toString(36) !== name) rmSync(`${this.root}/l/${name}`, { force: true });
    }
  }

  protected override mountsOf(row: SnapshotRow, parentIds: number[]): Mount[] {
    if (parentIds.length > MAX_LOWERS) {
      throw new FailedPreconditionError(
        `Cannot mount snapshot ${row.name}: it has ${parentIds.length} layers below it, overlayfs stacks at most ${MAX_LOWERS}`,
      );
    }
    const fs = this.fsDir(row.id);
    if (row.kind === 'active') {
      if (parentIds.length === 0) return [{ type: 'bind', source: fs, options: ['rbind', 'rw'] }];
      return [
        {
          type: 'overlay',
          source: 'overlay',
          options: [
            'index=off',
            `workdir=${this.snapshotDir(row.id)}/work`,
            `upperdir=${fs}`,
            `lowerdir=${parentIds.map((id) => this.#link(id)).join(':')}`,
          ],
        },
      ];
    }
    if (parentIds.length === 0) return [{ type: 'bind', source: fs, options: ['rbind', 'ro'] }];
    if (parentIds.length === 1)
      return [{ type: 'bind', source: this.fsDir(parentIds[0]!), options: ['rbind', 'ro'] }];
    return [
      {
        type: 'overlay',
        source: 'overlay',
        options: ['index=off', `lowerdir=${parentIds.map((id) => this.#link(id)).join(':')}`],
      },
    ];
  }
}

/**
 * Loaded, or loadable on first mount as a module. Read synchronously: /proc files of a few
 * hundred bytes, read at every open (each command that touches snapshots), where a thread-pool
 * round trip costs more than the read.
 */
function overlaySupported(): boolean {
  try {
    if (/\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'))) return true;
  } catch {
    return false;
  }
  let release = '';
  try {
    release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // unknown kernel: no module to look for
  }
  return release !== '' && existsSync(`/lib/modules/${release}/kernel/fs/overlayfs`);
}
