/**
 * Every backend the Engine API can serve from, one per route group, and the route table built
 * from them. Only `system` is required; a group whose backend is absent still has its routes,
 * answering 501 with a message naming the missing service, so clients learn what is missing
 * instead of getting a 404 they would misread.
 *
 * @example
 * const routes = engineApiRoutes({ system, diskUsage, images: engine.images });
 */
import type { Route } from './route.ts';
import { type BuildBackend, buildRoutes, type CommitBackend } from './routes/build-routes.ts';
import {
  type ContainerBackend,
  type ContainerIoBackend,
  containerRoutes,
} from './routes/container-routes.ts';
import { type EventsBackend, eventRoutes } from './routes/event-routes.ts';
import { type ExecBackend, execRoutes } from './routes/exec-routes.ts';
import { type ImageBackend, imageRoutes } from './routes/image-routes.ts';
import { type ImageTransferBackend, imageTransferRoutes } from './routes/image-transfer-routes.ts';
import { type NetworkBackend, networkRoutes } from './routes/network-routes.ts';
import { type DiskUsageBackend, type SystemBackend, systemRoutes } from './routes/system-routes.ts';
import { type VolumeBackend, volumeRoutes } from './routes/volume-routes.ts';

export interface EngineApiBackends {
  /** `/version`, `/info` (required). */
  system: SystemBackend;
  /** `/system/df`. */
  diskUsage?: DiskUsageBackend;
  /** Local images: list, inspect, history, tag, rmi, prune, save, load, import. */
  images?: ImageBackend;
  /** Pull, push, `/auth`, search. */
  imageTransfer?: ImageTransferBackend;
  /** `/build`, `/build/prune`. */
  build?: BuildBackend;
  /** `/commit`. */
  commit?: CommitBackend;
  /** Container lifecycle and queries. */
  containers?: ContainerBackend;
  /** attach, logs, stats, export, archive. */
  containerIo?: ContainerIoBackend;
  exec?: ExecBackend;
  volumes?: VolumeBackend;
  networks?: NetworkBackend;
  events?: EventsBackend;
}

/** The full route table, fixed paths before the patterns that could swallow them. */
export function engineApiRoutes(backends: EngineApiBackends): Route[] {
  return [
    ...systemRoutes({
      system: backends.system,
      ...(backends.diskUsage ? { diskUsage: backends.diskUsage } : {}),
    }),
    ...imageTransferRoutes(backends.imageTransfer),
    ...imageRoutes({
      ...(backends.images ? { images: backends.images } : {}),
      ...(backends.imageTransfer ? { transfer: backends.imageTransfer } : {}),
    }),
    ...buildRoutes({
      ...(backends.build ? { build: backends.build } : {}),
      ...(backends.commit ? { commit: backends.commit } : {}),
    }),
    ...execRoutes(backends.exec),
    ...containerRoutes({
      ...(backends.containers ? { containers: backends.containers } : {}),
      ...(backends.containerIo ? { io: backends.containerIo } : {}),
    }),
    ...volumeRoutes(backends.volumes),
    ...networkRoutes(backends.networks),
    ...eventRoutes(backends.events),
  ];
}
