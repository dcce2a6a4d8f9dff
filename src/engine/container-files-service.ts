/**
 * The container filesystem verbs of the engine (`diff`, `export`, `cp`, `commit`) over the
 * container service and the image store, in the shapes the Engine API's container, container-io
 * and commit backends use (`GET /containers/ID/changes`, `/export`, `HEAD|GET|PUT /archive`,
 * `POST /commit`). The work is src/container/fs's; this only wires and translates.
 *
 * @example
 * const files = openContainerFiles(engine, containers);
 * const changes = await files.changes('web'); // [{ Path: '/etc', Kind: 0 }, ...]
 */
import type { Readable } from 'node:stream';
import type { ContainerService } from '../container/container-service.ts';
import type { PathStat } from '../container/fs/container-archive.ts';
import { CHANGE_KIND_NUMBER } from '../container/fs/container-changes.ts';
import { ContainerFiles } from '../container/fs/container-files.ts';
import type { LocalEngine } from './local-engine.ts';

/** `POST /commit`'s parameters. */
export interface CommitRequest {
  container: string;
  reference?: string;
  comment: string;
  author: string;
  pause: boolean;
  changes: string[];
  config?: Record<string, unknown>;
}

export class ContainerFilesService {
  readonly files: ContainerFiles;

  constructor(files: ContainerFiles) {
    this.files = files;
  }

  /** `GET /containers/ID/changes`: Kind 0 changed, 1 added, 2 deleted; null when nothing changed. */
  async changes(id: string): Promise<Array<{ Path: string; Kind: number }> | null> {
    const changes = await this.files.changes(id);
    return changes.length > 0
      ? changes.map((change) => ({ Path: change.path, Kind: CHANGE_KIND_NUMBER[change.kind] }))
      : null;
  }

  export(id: string, signal?: AbortSignal): Promise<Readable> {
    return this.files.export(id, signal ? { signal } : {});
  }

  statPath(id: string, path: string): Promise<PathStat> {
    return this.files.statPath(id, path);
  }

  getArchive(id: string, path: string, signal?: AbortSignal): Promise<{ stat: PathStat; stream: Readable }> {
    return this.files.getArchive(id, path, signal ? { signal } : {});
  }

  async putArchive(
    id: string,
    path: string,
    tar: AsyncIterable<Uint8Array>,
    options: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean; signal?: AbortSignal },
  ): Promise<void> {
    await this.files.putArchive(id, path, tar, options);
  }

  async commit(request: CommitRequest): Promise<{ Id: string }> {
    const { id } = await this.files.commit(request.container, {
      ...(request.reference ? { reference: request.reference } : {}),
      comment: request.comment,
      author: request.author,
      pause: request.pause,
      changes: request.changes,
      ...(request.config ? { config: request.config } : {}),
    });
    return { Id: id };
  }
}

export function openContainerFiles(engine: LocalEngine, containers: ContainerService): ContainerFilesService {
  return new ContainerFilesService(new ContainerFiles(containers, engine.images.store));
}
