/**
 * Wiring: the Engine API backends served from one in-process engine. Each group is wired once
 * its service exists in the engine; the others stay absent and their routes answer 501
 * (src/engine-api/routes/seam.ts). The images service fits the image routes as it is: one
 * implementation, two front doors (the CLI calls the same methods).
 *
 * @example
 * const backends = localBackends(engine, { version: '0.1.0' });
 */

import type { LocalEngine } from '../engine/local-engine.ts';
import { volumeDiskUsage } from '../engine/volume-disk-usage.ts';
import { openVolumeService } from '../engine/volume-service.ts';
import type { EngineApiBackends } from '../engine-api/engine-api-backends.ts';
import type { JsonObject } from '../engine-api/routes/json-types.ts';
import { DaemonBuildBackend } from './build-backend.ts';
import { DaemonCommit } from './commit-backend.ts';
import { localContainerBackends } from './container-backends.ts';
import { DaemonImageTransfer } from './image-transfer-backend.ts';
import { DaemonNetworks } from './network-backend.ts';
import { HostSystemBackend } from './system-description.ts';

export function localBackends(
  engine: LocalEngine,
  options: { version: string; debug?: boolean },
): EngineApiBackends & { close(): void } {
  const images = engine.images;
  const containers = localContainerBackends(engine);
  const volumes = openVolumeService(engine);
  const build = new DaemonBuildBackend(engine);
  return {
    system: new HostSystemBackend({
      root: engine.root,
      version: options.version,
      ...(options.debug !== undefined ? { debug: options.debug } : {}),
      countImages: async () => (await images.list({ all: true })).length,
      containerCounts: () => containers.counts(),
      runtimeSelection: async () => {
        const selection = await containers.service.context.selection();
        return {
          name: selection.driver.name,
          ...(selection.fallbackReason ? { fallbackReason: selection.fallbackReason } : {}),
        };
      },
    }),
    diskUsage: {
      images: () => images.df(),
      containers: () => containers.diskUsage(),
      volumes: async () => (await volumeDiskUsage(volumes)) as unknown as JsonObject[],
      buildCache: () => build.diskUsage(),
    },
    images,
    imageTransfer: new DaemonImageTransfer(engine),
    build,
    commit: new DaemonCommit(engine, () => containers.service),
    volumes,
    networks: new DaemonNetworks(engine),
    containers: containers.containers,
    containerIo: containers.containerIo,
    exec: containers.exec,
    events: containers.events,
    close: () => containers.close(),
  };
}
