/**
 * The image configuration (OCI `config.md`, identical in shape to Docker's
 * `application/vnd.docker.container.image.v1+json`): execution defaults, rootfs diffIDs, history.
 * Unknown fields (Docker's `container_config`, `docker_version`...) are kept: a config's digest
 * is the image id, so Wharf stores the bytes it was given and only reads them through this schema.
 *
 * @example
 * const config = parseImageConfig(bytes);
 * config.rootfs.diff_ids; // ['sha256:…', …]
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors/index.ts';
import { DigestSchema } from './descriptor.ts';

// Docker writes nulls where OCI omits fields; accept both.
const nullableStrings = z.array(z.string()).nullable().optional();
const emptyObjectMap = z.record(z.string(), z.looseObject({})).nullable().optional();

export const HealthcheckSchema = z.looseObject({
  Test: nullableStrings,
  Interval: z.number().optional(),
  Timeout: z.number().optional(),
  StartPeriod: z.number().optional(),
  StartInterval: z.number().optional(),
  Retries: z.number().optional(),
});

/** The `config` object: the container defaults of the image. */
export const ContainerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: emptyObjectMap,
  Env: nullableStrings,
  Entrypoint: nullableStrings,
  Cmd: nullableStrings,
  Volumes: emptyObjectMap,
  WorkingDir: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullable().optional(),
  StopSignal: z.string().optional(),
  ArgsEscaped: z.boolean().optional(),
  // Docker extensions
  Healthcheck: HealthcheckSchema.nullable().optional(),
  OnBuild: nullableStrings,
  Shell: nullableStrings,
});
export type ContainerConfig = z.infer<typeof ContainerConfigSchema>;

export const HistoryEntrySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

export const RootFsSchema = z.looseObject({
  type: z.literal('layers', { message: 'rootfs.type must be "layers"' }),
  diff_ids: z.array(DigestSchema),
});

export const ImageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  config: ContainerConfigSchema.nullable().optional(),
  rootfs: RootFsSchema,
  history: z.array(HistoryEntrySchema).optional(),
  // Docker extensions found in configs dockerd writes
  comment: z.string().optional(),
  parent: z.string().optional(),
  docker_version: z.string().optional(),
});
export type ImageConfig = z.infer<typeof ImageConfigSchema>;

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
  const result = ImageConfigSchema.safeParse(document);
  if (!result.success) {
    const first = result.error.issues[0];
    const where = first?.path.length ? first.path.join('.') : 'document';
    throw new InvalidArgumentError(`Cannot parse image config: ${where}: ${first?.message ?? 'invalid'}`, {
      cause: result.error,
    });
  }
  return result.data;
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
