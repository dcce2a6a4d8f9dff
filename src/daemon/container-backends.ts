/**
 * Wiring of the container side of the Engine API: one container service for the daemon (the
 * same service the CLI uses in-process), the container filesystem service over it, the watch of
 * the event log and of exits they share, and the backends built on them: container lifecycle,
 * container I/O, exec and events, plus the container parts of `/info` (counts) and
 * `/system/df`. Runs a previous daemon started (before a restart or a `kill -9`) are adopted:
 * their exits are handled here too.
 *
 * @example
 * const parts = localContainerBackends(engine);
 * const backends = { containers: parts.containers, containerIo: parts.containerIo, exec: parts.exec };
 */
import type { ContainerService } from '../container/container-service.ts';
import { openContainerFiles } from '../engine/container-files-service.ts';
import { openContainerService } from '../engine/containers-service.ts';
import type { LocalEngine } from '../engine/local-engine.ts';
import type { ContainerBackend, ContainerIoBackend } from '../engine-api/routes/container-routes.ts';
import type { EventsBackend } from '../engine-api/routes/event-routes.ts';
import type { ExecBackend } from '../engine-api/routes/exec-routes.ts';
import type { JsonObject } from '../engine-api/routes/json-types.ts';
import type { SystemDescription } from '../engine-api/routes/system-routes.ts';
import { openProcessSpawner } from '../runtime/process-spawner.ts';
import { LocalContainerBackend } from './container-backend.ts';
import { LocalContainerIoBackend } from './container-io-backend.ts';
import { ContainerWatch } from './container-watch.ts';
import { LocalEventsBackend } from './events-backend.ts';
import { LocalExecBackend } from './exec-backend.ts';

export interface LocalContainerBackends {
  service: ContainerService;
  watch: ContainerWatch;
  containers: ContainerBackend;
  containerIo: ContainerIoBackend;
  exec: ExecBackend;
  events: EventsBackend;
  /** `/info`'s Containers, ContainersRunning, ContainersPaused, ContainersStopped. */
  counts(): Promise<SystemDescription['containers']>;
  /** `/system/df`'s Containers: every container with SizeRw and SizeRootFs. */
  diskUsage(): Promise<JsonObject[]>;
  /** Ends the process spawner (its helper exits; what it started runs on). */
  close(): void;
}

export function localContainerBackends(engine: LocalEngine): LocalContainerBackends {
  // A run's `mount`, conmon and `umount` start from a helper process, not by forking the daemon
  // (4-5 ms of its thread each: runtime/process-spawner.ts); Node's spawn without perl.
  const spawner = openProcessSpawner();
  const service = openContainerService(engine, spawner ? { spawner } : {});
  const files = openContainerFiles(engine, service);
  const watch = new ContainerWatch(service);
  watch.adoptRunning();
  return {
    service,
    watch,
    containers: new LocalContainerBackend({ service, files, watch }),
    containerIo: new LocalContainerIoBackend({ service, files, watch }),
    exec: new LocalExecBackend(service),
    events: new LocalEventsBackend(service),
    async counts() {
      const all = await service.list({ all: true });
      const running = all.filter((c) => c.State === 'running' || c.State === 'restarting').length;
      const paused = all.filter((c) => c.State === 'paused').length;
      return { total: all.length, running, paused, stopped: all.length - running - paused };
    },
    async diskUsage() {
      const all = await service.list({ all: true, size: true });
      return all.map((summary) => ({
        ...summary,
        SizeRw: summary.SizeRw ?? 0,
        SizeRootFs: summary.SizeRootFs ?? 0,
      })) as unknown as JsonObject[];
    },
    close() {
      spawner?.close();
    },
  };
}
