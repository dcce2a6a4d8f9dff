/**
 * The JSON shapes of Docker's Engine API for images (API 1.4x), which `wharf` prints and the
 * engine API serves: tools parse them, so field names and types follow Docker's exactly.
 *
 * @example
 * const summary: ImageSummary = images.list()[0]!;
 * summary.RepoTags; // ['busybox:latest']
 */

/** `GET /images/json` entry. */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** Unix seconds. */
  Created: number;
  Size: number;
  /** -1 unless computed (system df). */
  SharedSize: number;
  Labels: Record<string, string>;
  /** -1 unless computed (system df). */
  Containers: number;
}

/** The container config of `image inspect`, with Docker's full set of fields. */
export interface InspectContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: unknown;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, Record<string, never>> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[];
}

/** `GET /images/{name}/json`. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: InspectContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  GraphDriver: { Data: Record<string, string> | null; Name: string };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  /** Wharf's addition (Docker 28 with the containerd store has it too): the local manifest. */
  Descriptor?: { mediaType: string; digest: string; size: number };
}

/** `GET /images/{name}/history` entry, newest first. */
export interface HistoryResponseItem {
  /** The image id for entries that correspond to a local image, else `<missing>`. */
  Id: string;
  /** Unix seconds. */
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** `DELETE /images/{name}` and prune entries. */
export type DeleteResponseItem = { Untagged: string } | { Deleted: string };

/** `POST /images/prune`. */
export interface ImagesPruneReport {
  ImagesDeleted: DeleteResponseItem[] | null;
  SpaceReclaimed: number;
}

/** The images half of `GET /system/df`. */
export interface ImagesDiskUsage {
  /** Bytes of all layer blobs, each counted once. */
  LayersSize: number;
  Images: ImageSummary[];
  /** Bytes of every blob in the content store (layers, configs, manifests, leftovers). */
  ContentSize: number;
}

/** Docker's zero time, printed where an image has no value. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
