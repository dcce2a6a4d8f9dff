/**
 * The image configuration (OCI `config.md`, identical in shape to Docker's
 * `application/vnd.docker.container.image.v1+json`): execution defaults, rootfs diffIDs, history.
 * Unknown fields (Docker's `container_config`, `docker_version`...) are kept: a config's digest
 * is the image id, so Wharf stores the bytes it was given and only reads them through this check.
 *
 * @example
 * const config = parseImageConfig(bytes);
 * config.rootfs.diff_ids; // ['sha256:…', …]
 */
import { InvalidArgumentError } from '../errors/index.ts';
import { DIGEST_SHAPE } from './descriptor.ts';
import type { Digest } from './digest.ts';
import {
  arrayOf,
  boolean,
  type Check,
  literal,
  nullable,
  number,
  object,
  optional,
  plainObject,
  recordOf,
  ShapeError,
  string,
} from './json-shape.ts';

// Docker writes nulls where OCI omits fields; accept both.
const nullableStrings = optional(nullable(arrayOf(string)));
const emptyObjectMap = optional(nullable(recordOf(plainObject)));

export interface Healthcheck {
  Test?: string[] | null | undefined;
  /** Nanoseconds, as are the other durations. */
  Interval?: number | undefined;
  Timeout?: number | undefined;
  StartPeriod?: number | undefined;
  StartInterval?: number | undefined;
  Retries?: number | undefined;
  [key: string]: unknown;
}

const HEALTHCHECK_SHAPE: Check = object({
  Test: nullableStrings,
  Interval: optional(number),
  Timeout: optional(number),
  StartPeriod: optional(number),
  StartInterval: optional(number),
  Retries: optional(number),
});

/** The `config` object: the container defaults of the image. */
export interface ContainerConfig {
  User?: string | undefined;
  ExposedPorts?: Record<string, Record<string, unknown>> | null | undefined;
  Env?: string[] | null | undefined;
  Entrypoint?: string[] | null | undefined;
  Cmd?: string[] | null | undefined;
  Volumes?: Record<string, Record<string, unknown>> | null | undefined;
  WorkingDir?: string | undefined;
  Labels?: Record<string, string> | null | undefined;
  StopSignal?: string | undefined;
  ArgsEscaped?: boolean | undefined;
  // Docker extensions
  Healthcheck?: Healthcheck | null | undefined;
  OnBuild?: string[] | null | undefined;
  Shell?: string[] | null | undefined;
  [key: string]: unknown;
}

const CONTAINER_CONFIG_SHAPE: Check = object({
  User: optional(string),
  ExposedPorts: emptyObjectMap,
  Env: nullableStrings,
  Entrypoint: nullableStrings,
  Cmd: nullableStrings,
  Volumes: emptyObjectMap,
  WorkingDir: optional(string),
  Labels: optional(nullable(recordOf(string))),
  StopSignal: optional(string),
  ArgsEscaped: optional(boolean),
  Healthcheck: optional(nullable(HEALTHCHECK_SHAPE)),
  OnBuild: nullableStrings,
  Shell: nullableStrings,
});

export interface HistoryEntry {
  created?: string | undefined;
  created_by?: string | undefined;
  author?: string | undefined;
  comment?: string | undefined;
  empty_layer?: boolean | undefined;
  [key: string]: unknown;
}

const HISTORY_ENTRY_SHAPE: Check = object({
  created: optional(string),
  created_by: optional(string),
  author: optional(string),
  comment: optional(string),
  empty_layer: optional(boolean),
});

export interface RootFs {
  type: 'layers';
  diff_ids: Digest[];
  [key: string]: unknown;
}

const ROOTFS_SHAPE: Check = object({
  type: literal('layers', 'must be "layers"'),
  diff_ids: arrayOf(DIGEST_SHAPE),
});

export interface ImageConfig {
  created?: string | undefined;
  author?: string | undefined;
  architecture: string;
  os: string;
  'os.version'?: string | undefined;
  'os.features'?: string[] | undefined;
  variant?: string | undefined;
  config?: ContainerConfig | null | undefined;
  rootfs: RootFs;
  history?: HistoryEntry[] | undefined;
  // Docker extensions found in configs dockerd writes
  comment?: string | undefined;
  parent?: string | undefined;
  docker_version?: string | undefined;
  [key: string]: unknown;
}

/** The shape check of an ImageConfig (unknown fields are kept). */
export const IMAGE_CONFIG_SHAPE: Check = object({
  created: optional(string),
  author: optional(string),
  architecture: string,
  os: string,
  'os.version': optional(string),
  'os.features': optional(arrayOf(string)),
  variant: optional(string),
  config: optional(nullable(CONTAINER_CONFIG_SHAPE)),
  rootfs: ROOTFS_SHAPE,
  history: optional(arrayOf(HISTORY_ENTRY_SHAPE)),
  comment: optional(string),
  parent: optional(string),
  docker_version: optional(string),
});

/**
 * Parses and validates an image config. Throws InvalidArgumentError with the offending field.
 */
export function parseImageConfig(bytes: Uint8Array | string): ImageConfig {
  const text =
    typeof bytes === 'string'
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`Cannot parse image config: invalid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  try {
    IMAGE_CONFIG_SHAPE(document, '');
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error;
    throw new InvalidArgumentError(`Cannot parse image config: ${error.message}`, { cause: error });
  }
  return document as ImageConfig;
}

/**
 * Serializes a config Wharf creates (import, commit, build). Compact JSON, as dockerd writes
 * it; the sha256 of these bytes becomes the image id.
 */
export function serializeImageConfig(config: ImageConfig): Buffer {
  return Buffer.from(JSON.stringify(config));
}

/** The history entries that correspond to layers (not `empty_layer`), in order. */
export function layerHistory(config: ImageConfig): HistoryEntry[] {
  return (config.history ?? []).filter((entry) => entry.empty_layer !== true);
}
