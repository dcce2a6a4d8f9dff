/**
 * A container's mount points as Wharf records them in the container's definition
 * (`definition.MountPoints`, JSON in the `containers` row): Docker's `MountPoint` (what `inspect`
 * shows under `Mounts`) plus what starting the container needs (copy the image's content into
 * an empty volume, tmpfs size and mode, recursion of binds). Volumes in use and a container's
 * anonymous volumes are read from these records, so they cannot drift from the containers.
 *
 * @example
 * const points = mountPointsOf(record.definition);
 * inspect.Mounts = mountPointsView(points);
 */

export interface StoredMountPoint {
  Type: 'volume' | 'bind' | 'tmpfs';
  /** The volume's name (volumes only). */
  Name?: string;
  /** Host path: a bind's source, a volume's `_data`; '' for tmpfs. */
  Source: string;
  /** Absolute path in the container. */
  Destination: string;
  /** `local` (volumes only). */
  Driver?: string;
  /** The mode as given (`ro`, `rw,Z`), `z` for local volumes without one, as Docker records it. */
  Mode: string;
  RW: boolean;
  /** `rprivate` for binds (unless asked otherwise), '' for volumes and tmpfs. */
  Propagation: string;
  /** Copy the image's content at Destination into the volume when it is empty (Docker's default; `nocopy` turns it off). */
  CopyData?: boolean;
  /** Made for this container (an image VOLUME, `-v /path`): removed with it by `rm -v` and `--rm`. */
  Anonymous?: boolean;
  /** A bind that does not take the source's submounts (`bind-recursive=disabled`). */
  NonRecursive?: boolean;
  /** tmpfs: bytes and mode; options after Docker's defaults. */
  TmpfsSize?: number;
  TmpfsMode?: number;
  TmpfsOptions?: string[];
  /** From `--tmpfs` (HostConfig.Tmpfs): Docker shows these under HostConfig, not Mounts. */
  FromTmpfsFlag?: boolean;
}

/** Docker's `MountPoint` as `inspect` and `ps` show it. */
export interface MountPointView {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** The mount points recorded in a container definition (none for containers made before volumes). */
export function mountPointsOf(definition: object): StoredMountPoint[] {
  const points = (definition as { MountPoints?: unknown }).MountPoints;
  return Array.isArray(points) ? (points as StoredMountPoint[]) : [];
}

/** `inspect`'s `Mounts`: Docker's fields, by destination, without `--tmpfs` mounts. */
export function mountPointsView(points: readonly StoredMountPoint[]): MountPointView[] {
  return points
    .filter((point) => !point.FromTmpfsFlag)
    .sort((a, b) => (a.Destination < b.Destination ? -1 : a.Destination > b.Destination ? 1 : 0))
    .map((point) => ({
      Type: point.Type,
      ...(point.Type === 'volume' ? { Name: point.Name ?? '' } : {}),
      Source: point.Source,
      Destination: point.Destination,
      ...(point.Type === 'volume' ? { Driver: point.Driver ?? 'local' } : {}),
      Mode: point.Mode,
      RW: point.RW,
      Propagation: point.Propagation,
    }));
}
