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
import type { EngineApiBackends } from '../engine-api/engine-api-backends.ts';
import { HostSystemBackend } from './system-description.ts';

export function localBackends(
  engine: LocalEngine,
  options: { version: string; debug?: boolean },
): EngineApiBackends {
  const images = engine.images;
  return {
    system: new HostSystemBackend({
      root: engine.root,
      version: options.version,
      ...(options.debug !== undefined ? { debug: options.debug } : {}),
      countImages: async () => (await images.list({ all: true })).length,
    }),
    diskUsage: { images: () => images.df() },
    images,
  };
}
