/**
 * `run`/`create --cidfile FILE`, as docker/cli's cidFile: a FILE that exists is refused before
 * any container is made (another container may own it), the file is made empty up front, the id
 * written once the container exists, and a file that never got an id is removed again.
 *
 * @example
 * const cid = await CidFile.open(flags.cidfile);
 * try {
 *   const { id } = await service.create(request);
 *   await cid.write(id);
 * } finally {
 *   await cid.close();
 * }
 */
import { type FileHandle, open, stat, unlink } from 'node:fs/promises';
import { InvalidArgumentError } from '../../errors/index.ts';

export class CidFile {
  #path: string | undefined;
  #handle: FileHandle | undefined;
  #written = false;

  private constructor(path: string | undefined, handle: FileHandle | undefined) {
    this.#path = path;
    this.#handle = handle;
  }

  /** Makes FILE (nothing when `path` is undefined or empty); refuses one that exists. */
  static async open(path: string | undefined): Promise<CidFile> {
    if (!path) return new CidFile(undefined, undefined);
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) {
      throw new InvalidArgumentError(
        `container ID file found, make sure the other container isn't running or delete ${path}`,
      );
    }
    try {
      return new CidFile(path, await open(path, 'wx'));
    } catch (error) {
      throw new InvalidArgumentError(
        `failed to create the container ID file: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  async write(id: string): Promise<void> {
    if (!this.#handle) return;
    await this.#handle.writeFile(id);
    this.#written = true;
  }

  /** Closes FILE, and removes it when no id went in (the create failed). */
  async close(): Promise<void> {
    const handle = this.#handle;
    if (!handle) return;
    this.#handle = undefined;
    await handle.close();
    if (!this.#written && this.#path) await unlink(this.#path).catch(() => undefined);
  }
}
