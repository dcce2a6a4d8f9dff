/**
 * The snapshotter interface, after containerd's (`core/snapshots/snapshotter.go`).
 *
 * The story of a snapshot: `prepare(key, parent)` makes an **active** snapshot, a writable tree on
 * top of committed `parent` (or empty), and returns the mounts that show it. Someone mounts them and
 * writes (an unpacker applies a layer, a container runs). `commit(name, key)` turns the active
 * snapshot into a **committed** one called `name`: read-only from then on, usable as a parent, and
 * the key is gone. `view(key, parent)` makes a read-only **view** of a committed snapshot (never
 * committable). `remove(key)` deletes a snapshot that has no children. Keys and names share one
 * namespace. Chains are shared: every image and container whose layers start the same way uses the
 * same committed snapshots (the unpacker names them by chain ID).
 *
 * A snapshotter never hands out bare paths, only `Mount`s: the caller decides where they go
 * (`mountAt`), so overlay, bind and any later kind look the same from above.
 *
 * @example
 * const mounts = await snapshotter.prepare('extract-1 sha256:abc', undefined);
 * await mountAt(mounts, '/tmp/rootfs'); // ... write ... ; await unmount('/tmp/rootfs');
 * await snapshotter.commit('sha256:abc', 'extract-1 sha256:abc');
 */

export type SnapshotKind = 'active' | 'view' | 'committed';

/** One mount(8) call: `mount -t TYPE -o OPTIONS SOURCE TARGET`. */
export interface Mount {
  type: string;
  source: string;
  /** Sub-path under the mount point where this mount goes (for stacked mounts); usually absent. */
  target?: string;
  options: string[];
}

export interface SnapshotInfo {
  kind: SnapshotKind;
  /** The key (active, view) or name (committed). */
  name: string;
  /** Name of the committed parent; absent for a base snapshot. */
  parent?: string;
  labels: Record<string, string>;
  created: Date;
  updated: Date;
}

export interface Usage {
  /** Bytes used by this snapshot alone (not its parents). */
  size: number;
  inodes: number;
}

export interface SnapshotOptions {
  labels?: Record<string, string>;
  /**
   * A throwaway active snapshot (an `--rm` container's writable layer, deleted when the
   * container exits): its metadata is not waited onto the disk. After a power loss the snapshot
   * may be missing its row (its directory is swept) or its directory (`remove` deletes the row):
   * what a killed process leaves. Pass the same to `remove`.
   */
  volatile?: boolean;
}

export interface RemoveOptions {
  /** The snapshot was made `volatile`: its removal is not waited onto the disk either. */
  volatile?: boolean;
  /**
   * Resolve once the row is deleted and the directory renamed away (`rm-PID-...`); its contents
   * are deleted afterwards (see util/background-delete.ts), or by the sweep of the next `open`
   * when this process dies first.
   */
  background?: boolean;
}

export interface WalkFilter {
  kind?: SnapshotKind;
  /** Only snapshots carrying all these labels (with these values). */
  labels?: Record<string, string>;
}

export interface Snapshotter {
  /** Implementation name ('overlay', 'native'). */
  readonly name: string;
  /** Throws NotFoundError when there is no snapshot `key`. */
  stat(key: string): Promise<SnapshotInfo>;
  /** Replaces the labels of `key`; returns the updated info. */
  update(key: string, labels: Record<string, string>): Promise<SnapshotInfo>;
  /** Disk use of `key` alone: computed now for active snapshots, recorded at commit otherwise. */
  usage(key: string): Promise<Usage>;
  /** The mounts that show `key` (active or view; committed snapshots are only parents). */
  mounts(key: string): Promise<Mount[]>;
  /** Creates active snapshot `key` on committed `parent` (or empty). AlreadyExists if taken. */
  prepare(key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]>;
  /** Creates read-only view `key` of committed `parent` (or empty). */
  view(key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]>;
  /** Makes active `key` the committed snapshot `name`; `key` disappears. */
  commit(name: string, key: string, options?: SnapshotOptions): Promise<void>;
  /** Deletes `key`; FailedPrecondition while it has children. */
  remove(key: string, options?: RemoveOptions): Promise<void>;
  /** Calls `fn` for every snapshot (matching `filter`). */
  walk(fn: (info: SnapshotInfo) => void | Promise<void>, filter?: WalkFilter): Promise<void>;
  /** Releases the metadata store. */
  close(): void;
}
