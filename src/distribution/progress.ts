/**
 * Progress of pulls, pushes and builds as a stream of events in the shape of Docker's
 * `JSONMessage` (what `POST /images/create` streams): `{id, status, progressDetail}`. Producers
 * call a `ProgressSink`; the CLI renders the events as Docker's per-layer bars on a terminal or
 * one line per event otherwise, the Engine API sends them as JSON lines.
 *
 * Statuses used, as Docker words them: Pulling fs layer, Waiting, Downloading, Verifying
 * Checksum, Download complete, Extracting, Pull complete, Already exists; Preparing, Pushing,
 * Pushed, Layer already exists, Mounted from NAME.
 *
 * @example
 * const sink: ProgressSink = (event) => renderer.write(event);
 * const layer = new LayerProgress(sink, shortLayerId(desc.digest));
 * layer.status('Pulling fs layer');
 * layer.bytes('Downloading', 1_000, 45_600_000); // rate-limited
 */
import { encodedOf } from '../oci/digest.ts';

export interface ProgressEvent {
  /** The layer (short id) or tag the event is about; absent for plain messages. */
  id?: string;
  status: string;
  /** Byte counts of a `Downloading`/`Extracting`/`Pushing` event. */
  progressDetail?: { current: number; total?: number };
}

export type ProgressSink = (event: ProgressEvent) => void;

/** A sink that drops everything (`-q`). */
export const silentProgress: ProgressSink = () => {};

/** The 12-hex-digit id Docker shows for a layer. */
export function shortLayerId(digest: string): string {
  return encodedOf(digest).slice(0, 12);
}

/** Byte progress is sent at most this often per layer (the last update always goes). */
const BYTES_INTERVAL_MS = 100;

/** The progress of one layer: statuses as they happen, byte counts rate-limited. */
export class LayerProgress {
  readonly #sink: ProgressSink;
  readonly id: string;
  #lastBytesAt = 0;

  constructor(sink: ProgressSink, id: string) {
    this.#sink = sink;
    this.id = id;
  }

  status(status: string): void {
    this.#sink({ id: this.id, status });
  }

  /** A byte count; skipped when the previous one went out less than 100 ms ago (unless done). */
  bytes(action: string, current: number, total?: number): void {
    const now = Date.now();
    const done = total !== undefined && current >= total;
    if (!done && now - this.#lastBytesAt < BYTES_INTERVAL_MS) return;
    this.#lastBytesAt = now;
    this.#sink({
      id: this.id,
      status: action,
      progressDetail: total === undefined ? { current } : { current, total },
    });
  }
}
