/**
 * Compiled seccomp filters, kept so that crun compiles each profile once. At every `create`,
 * crun turns the spec's `linux.seccomp` (Docker's default profile: about 350 syscall names)
 * into a BPF program with libseccomp: about 20 ms of the 30-50 ms a create takes here. crun
 * 1.8 also accepts the program ready-made in the `run.oci.seccomp_bpf_data` annotation
 * (base64) and then loads it as given, and it leaves the program it compiled in its state
 * directory (`STATE/ID/seccomp.bpf`). So: the first container with a profile is created as
 * usual; its compiled program is kept here; later containers with the same profile carry it
 * in the annotation. (Newer crun keeps such a cache itself, in `STATE/.cache/seccomp`.)
 *
 * The key covers everything the program depends on: the seccomp object as written to
 * config.json (profile, architectures, flags), the runtime binary (path, inode, size, mtime: an
 * upgraded crun, and its libseccomp, compiles again), the kernel (release and build) and the
 * CPU architecture. Only crun reads the annotation; runc compiles as before.
 *
 *   ROOT/runtime/seccomp/
 *     KEY.bpf     a program as crun wrote it (8 bytes per instruction), written atomically
 *
 * @example
 * const cache = new SeccompBpfCache(runtimePaths(root).seccompDir);
 * const pending = await cache.annotate(spec, driver); // adds the annotation when it knows the program
 * // ... create the container ...
 * if (pending) await cache.remember(pending, driver, id); // keeps crun's program for the next one
 */
import { statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { arch, release, version } from 'node:os';
import { join } from 'node:path';
import { isErrno } from '../errors/index.ts';
import { atomicWriteFile } from '../util/atomic-write.ts';
import type { RuntimeSpec } from './oci-runtime-spec.ts';
import type { RuntimeDriver } from './runtime-driver.ts';

/** crun's annotation for a precompiled filter (base64 of the BPF program). */
export const SECCOMP_BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';

/** A program is whole instructions of 8 bytes; crun's are about 1,000 for Docker's profile. */
function validProgram(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes.length % 8 === 0 && bytes.length <= 8 * 65_536;
}

export class SeccompBpfCache {
  readonly #dir: string;
  /** base64 programs by key, as read or written by this process. */
  readonly #known = new Map<string, string>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Adds the compiled program to `spec`'s annotations when this cache has it. Returns the key to
   * pass to `remember` after the create when it has not (undefined: nothing to do, as for runc,
   * a spec without seccomp, or one that names its own program).
   */
  async annotate(spec: RuntimeSpec, driver: RuntimeDriver): Promise<string | undefined> {
    const seccomp = spec.linux.seccomp;
    if (driver.name !== 'crun' || !seccomp || spec.annotations?.[SECCOMP_BPF_ANNOTATION] !== undefined) {
      return undefined;
    }
    const key = await this.#key(JSON.stringify(seccomp), driver.binary);
    if (key === undefined) return undefined;
    const program = this.#known.get(key) ?? (await this.#load(key));
    if (program === undefined) return key;
    spec.annotations = { ...spec.annotations, [SECCOMP_BPF_ANNOTATION]: program };
    return undefined;
  }

  /**
   * Keeps the program crun compiled for container `id` (call after its create, before its
   * delete). Failures are ignored: the next container compiles again.
   */
  async remember(key: string, driver: RuntimeDriver, id: string): Promise<void> {
    try {
      const bytes = await readFile(join(driver.stateDir, id, 'seccomp.bpf'));
      if (!validProgram(bytes)) return;
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      await atomicWriteFile(this.#file(key), bytes, { mode: 0o600 });
      this.#known.set(key, bytes.toString('base64'));
    } catch {
      // not kept: crun compiles it next time
    }
  }

  #file(key: string): string {
    return join(this.#dir, `${key}.bpf`);
  }

  async #load(key: string): Promise<string | undefined> {
    try {
      const bytes = await readFile(this.#file(key));
      if (!validProgram(bytes)) return undefined;
      const program = bytes.toString('base64');
      this.#known.set(key, program);
      return program;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  async #key(seccompJson: string, binary: string): Promise<string | undefined> {
    let identity: string;
    try {
      // synchronous: one stat on the way of every start, microseconds against a thread-pool round trip
      const info = statSync(binary);
      identity = `${binary}\0${info.dev}:${info.ino}\0${info.size}\0${info.mtimeMs}`;
    } catch {
      return undefined;
    }
    // loaded here, not at the module's start: `exec` opens the context this cache belongs to and
    // never hashes a profile, and node:crypto costs 2-3 ms to load
    const { createHash } = await import('node:crypto');
    return createHash('sha256')
      .update(`${identity}\0${release()}\0${version()}\0${arch()}\0`)
      .update(seccompJson)
      .digest('hex');
  }
}
