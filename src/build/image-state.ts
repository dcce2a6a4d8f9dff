/**
 * The image a stage builds, as BuildKit's Dockerfile frontend keeps it (dockerspec.DockerOCIImage):
 * the container config each instruction changes, the history entries it appends, and the layers.
 * At export the history gets its times as BuildKit's image exporter gives them
 * (`normalizeLayersAndHistory`): a layer's entry carries the time its layer was made (kept in the
 * build cache, so a cached rebuild reproduces it), an empty-layer entry the time of the first new
 * layer after it, or of the layer before it; and the image's `created` is the last entry's time.
 * A fully cached rebuild therefore gives the very same image id, as BuildKit's does.
 *
 * @example
 * const state = ImageState.scratch({ os: 'linux', architecture: 'amd64' });
 * state.addHistory('ENV A=b', false);
 * const bytes = state.serialize();
 */

import type { Digest } from '../oci/digest.ts';
import type { ContainerConfig, HistoryEntry, ImageConfig } from '../oci/image-config.ts';
import type { Platform } from '../oci/platform.ts';

export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LayerRef {
  /** The uncompressed blob digest, which is its diffID (set once `ready` settles). */
  digest: Digest;
  size: number;
  /** When the layer was made (ms): the time of its history entry. */
  createdAt?: number;
  /** Settles when the layer's blob is stored and the fields above are set (absent: already). */
  ready?: Promise<void>;
  /** The committed snapshot showing the chain up to this layer, when this build made it. */
  snapshot?: string;
}

/** The Docker config fields in Go's struct order (OCI ImageConfig, then Docker's extensions). */
const CONFIG_ORDER = [
  'User',
  'ExposedPorts',
  'Env',
  'Entrypoint',
  'Cmd',
  'Volumes',
  'WorkingDir',
  'Labels',
  'StopSignal',
  'ArgsEscaped',
  'Healthcheck',
  'OnBuild',
  'Shell',
] as const;

export class ImageState {
  architecture: string;
  os: string;
  variant?: string;
  osVersion?: string;
  author?: string;
  config: ContainerConfig;
  history: HistoryEntry[];
  layers: LayerRef[];
  /** How many history entries came from the base image (kept as they are under an epoch). */
  baseHistory: number;

  private constructor(init: {
    architecture: string;
    os: string;
    variant?: string | undefined;
    osVersion?: string | undefined;
    author?: string | undefined;
    config: ContainerConfig;
    history: HistoryEntry[];
    layers: LayerRef[];
    baseHistory?: number;
  }) {
    this.architecture = init.architecture;
    this.os = init.os;
    if (init.variant) this.variant = init.variant;
    if (init.osVersion) this.osVersion = init.osVersion;
    if (init.author) this.author = init.author;
    this.config = init.config;
    this.history = init.history;
    this.layers = init.layers;
    this.baseHistory = init.baseHistory ?? init.history.length;
  }

  /** BuildKit's emptyImage: `FROM scratch`. */
  static scratch(platform: Platform): ImageState {
    return new ImageState({
      architecture: platform.architecture,
      os: platform.os,
      variant: platform.variant,
      config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' },
      history: [],
      layers: [],
    });
  }

  /** A base image's config (its `created` dropped, as BuildKit does) and layers. */
  static fromImage(config: ImageConfig, layers: LayerRef[]): ImageState {
    const c = structuredClone(config.config ?? {}) as ContainerConfig;
    const known: ContainerConfig = {};
    for (const key of CONFIG_ORDER) {
      const value = c[key];
      if (value !== undefined && value !== null) (known as Record<string, unknown>)[key] = value;
    }
    return new ImageState({
      architecture: config.architecture,
      os: config.os,
      variant: config.variant,
      osVersion: config['os.version'],
      author: config.author,
      config: known,
      history: structuredClone(config.history ?? []),
      layers: [...layers],
    });
  }

  clone(): ImageState {
    return new ImageState({
      architecture: this.architecture,
      os: this.os,
      variant: this.variant,
      osVersion: this.osVersion,
      author: this.author,
      config: structuredClone(this.config),
      history: structuredClone(this.history),
      // shared: a layer still being diffed fills its fields in place
      layers: [...this.layers],
      baseHistory: this.baseHistory,
    });
  }

  get platform(): Platform {
    return {
      os: this.os,
      architecture: this.architecture,
      ...(this.variant ? { variant: this.variant } : {}),
    };
  }

  get env(): string[] {
    return this.config.Env ?? [];
  }

  /** Adds or replaces `key` in the config's Env, keeping its place (BuildKit's addEnv). */
  setEnv(key: string, value: string): void {
    const env = [...(this.config.Env ?? [])];
    const i = env.findIndex((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e) === key);
    if (i >= 0) env[i] = `${key}=${value}`;
    else env.push(`${key}=${value}`);
    this.config.Env = env;
  }

  addHistory(createdBy: string, withLayer: boolean, fromBuildkitState = false): void {
    const entry: HistoryEntry = {
      created_by: fromBuildkitState ? `${createdBy} # buildkit` : createdBy,
      comment: HISTORY_COMMENT,
    };
    if (!withLayer) entry.empty_layer = true;
    this.history.push(entry);
  }

  /**
   * The image config bytes: history times filled in, keys ordered as BuildKit writes them. With
   * `epoch` (SOURCE_DATE_EPOCH, seconds), every entry this build added is dated at the epoch and
   * the base image's entries keep theirs, as BuildKit's frontend and exporter do; `created` is
   * the last entry's time either way.
   */
  serialize(options: { epoch?: number } = {}): Buffer {
    const history = normalizeHistory(this.history, this.layers);
    if (options.epoch !== undefined) {
      const at = goTime(options.epoch);
      for (let i = this.baseHistory; i < history.length; i++) history[i]!.created = at;
    }
    const created = history.at(-1)?.created;
    const config: Record<string, unknown> = {};
    for (const key of CONFIG_ORDER) {
      const value = this.config[key];
      if (value === undefined || value === null) continue;
      if (key === 'ArgsEscaped' && value === false) continue;
      config[key] = value;
    }
    // Go marshals the exporter's map[string]json.RawMessage with sorted keys.
    const doc: Record<string, unknown> = {};
    const top: Record<string, unknown> = {
      architecture: this.architecture,
      author: this.author,
      config,
      created,
      history: history.map(orderHistory),
      os: this.os,
      'os.version': this.osVersion,
      rootfs: { type: 'layers', diff_ids: this.layers.map((l) => l.digest) },
      variant: this.variant,
    };
    for (const key of Object.keys(top).sort()) if (top[key] !== undefined) doc[key] = top[key];
    return Buffer.from(JSON.stringify(doc));
  }
}

function orderHistory(h: HistoryEntry): HistoryEntry {
  const out: HistoryEntry = {};
  if (h.created !== undefined) out.created = h.created;
  if (h.created_by !== undefined) out.created_by = h.created_by;
  if (h.author !== undefined) out.author = h.author;
  if (h.comment !== undefined) out.comment = h.comment;
  if (h.empty_layer) out.empty_layer = true;
  return out;
}

/** BuildKit's normalizeLayersAndHistory, for the times. */
export function normalizeHistory(
  input: readonly HistoryEntry[],
  layers: readonly LayerRef[],
): HistoryEntry[] {
  const history = input.map((h) => ({ ...h }));
  let layerIndex = 0;
  // Entries beyond the layers (an image whose history lost track) become empty, from the bottom.
  for (const h of history) {
    if (h.empty_layer) continue;
    if (layerIndex >= layers.length) h.empty_layer = true;
    else {
      const layer = layers[layerIndex]!;
      if (h.created === undefined && layer.createdAt !== undefined)
        h.created = new Date(layer.createdAt).toISOString();
      layerIndex++;
    }
  }
  for (const layer of layers.slice(layerIndex)) {
    history.push({
      ...(layer.createdAt !== undefined ? { created: new Date(layer.createdAt).toISOString() } : {}),
      created_by: '',
      comment: 'buildkit.exporter.image.v0',
    });
  }
  // The first new layer's time (or the last known one) for the undated entries before it.
  let created: string | undefined;
  let undated = false;
  for (const h of history) {
    if (h.created !== undefined) {
      created = h.created;
      if (undated) break;
    } else undated = true;
  }
  undated = false;
  for (const h of history) {
    if (h.created !== undefined) {
      if (undated) created = h.created;
    } else {
      undated = true;
      if (created !== undefined) h.created = created;
    }
  }
  return history;
}

/** A time as Go's encoding/json writes it (RFC 3339, no fraction when it is zero). */
export function goTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}
