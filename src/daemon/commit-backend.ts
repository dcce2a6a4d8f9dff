/**
 * `POST /commit` over the engine's container files service (src/engine/container-files-service.ts),
 * whose `commit` already takes the route's request. The container service it needs is the
 * daemon's when the wiring has one, else one opened on first use (containers live in SQLite, so
 * any instance sees them all).
 *
 * @example
 * const commit = new DaemonCommit(engine, () => containers);
 * const { Id } = await commit.commit({ container: 'web', reference: 'web:v2', pause: true, ... });
 */
import type { ContainerService } from '../container/container-service.ts';
import { type ContainerFilesService, openContainerFiles } from '../engine/container-files-service.ts';
import { openContainerService } from '../engine/containers-service.ts';
import type { LocalEngine } from '../engine/local-engine.ts';
import type { CommitBackend, CommitRequest } from '../engine-api/routes/build-routes.ts';

export class DaemonCommit implements CommitBackend {
  readonly #engine: LocalEngine;
  readonly #containers: (() => ContainerService) | undefined;
  #files: ContainerFilesService | undefined;

  constructor(engine: LocalEngine, containers?: () => ContainerService) {
    this.#engine = engine;
    this.#containers = containers;
  }

  commit(request: CommitRequest): Promise<{ Id: string }> {
    this.#files ??= openContainerFiles(
      this.#engine,
      this.#containers?.() ?? openContainerService(this.#engine),
    );
    return this.#files.commit(request);
  }
}
