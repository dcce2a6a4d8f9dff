/**
 * The copy ("native") snapshotter: the fallback where overlayfs is missing. Every active snapshot
 * is a full copy of its parent (`cp -a --reflink=auto`: owners, modes, times, xattrs, hardlinks,
 * devices; copy-on-write clones where the filesystem has them); every mount is a bind mount.
 * A view of a committed snapshot binds the parent read-only instead of copying it: committed
 * snapshots never change.
 *
 * Layout of the root (`$WHARF_ROOT/snapshots/native`):
 *
 *     metadata.db                 SQLite (WAL), see metastore.ts
 *     snapshots/
 *       <id>/fs/                  the whole tree of snapshot <id>
 *       new-<pid>-<rand>/         being created (swept at open when <pid> is gone)
 *       rm-<pid>-<id>-<rand>/     being deleted (likewise)
 *
 * @example
 * const sn = await NativeSnapshotter.open('/var/lib/wharf/snapshots/native');
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { InternalError } from '../../errors/index.ts';
import { DirectorySnapshotter } from '../directory-snapshotter.ts';
import type { SnapshotRow } from '../metastore.ts';
import type { Mount, SnapshotKind } from '../snapshotter.ts';

export class NativeSnapshotter extends DirectorySnapshotter {
  readonly name = 'native';

  private constructor(root: string) {
    super(root);
  }

  /** Opens (creating if needed) the snapshotter at `root` and sweeps what crashed processes left. */
  static async open(root: string): Promise<NativeSnapshotter> {
    const snapshotter = new NativeSnapshotter(root);
    await snapshotter.sweep();
    return snapshotter;
  }

  protected override async populate(
    dir: string,
    kind: SnapshotKind,
    parent: SnapshotRow | undefined,
  ): Promise<void> {
    if (kind === 'active' && parent) {
      await copyTree(this.fsDir(parent.id), `${dir}/fs`);
      return;
    }
    await mkdir(`${dir}/fs`);
    await chmod(`${dir}/fs`, 0o755);
  }

  protected override mountsOf(row: SnapshotRow, parentIds: number[]): Mount[] {
    if (row.kind === 'active')
      return [{ type: 'bind', source: this.fsDir(row.id), options: ['rbind', 'rw'] }];
    const source = parentIds.length > 0 ? this.fsDir(parentIds[0]!) : this.fsDir(row.id);
    return [{ type: 'bind', source, options: ['rbind', 'ro'] }];
  }
}

function copyTree(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', '--reflink=auto', '--', from, to], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (error) =>
      reject(new InternalError(`Cannot run cp: ${error.message}`, { cause: error })),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new InternalError(
              `Cannot copy snapshot ${from}: ${Buffer.concat(err).toString().trim() || code}`,
            ),
          ),
    );
  });
}
