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
 * What the program depends on is its *material*: the seccomp object as written to config.json
 * (profile, architectures, flags), the runtime binary (path, inode, size, mtime: an upgraded
 * crun, and its libseccomp, compiles again), the kernel (release and build) and the CPU
 * architecture. A file is named by a 64-bit FNV-1a of the material and holds the material
 * itself, which must equal the asking container's, byte for byte, before its program is used.
 * So the name needs no cryptographic hash (node:crypto would cost 2-3 ms of every `run`'s
 * start-up, util/node-crypto.ts): two materials that share a name (by chance, or a crafted
 * `--security-opt seccomp=` profile) only miss the cache, they never get each other's program.
 * Only crun reads the annotation; runc compiles as before.
 *
 *   ROOT/runtime/seccomp/
 *     NAME.bpf    `wharf-seccomp-bpf 1 <material bytes>\n`, the material, then the program as
 *                 crun wrote it (8 bytes per instruction); written atomically
 *
 * @example
 * const cache = new SeccompBpfCache(runtimePaths(root).seccompDir);
 * const pending = await cache.annotate(spec, driver); // adds the annotation when it knows the program
 * // ... create the container ...
 * if (pending) await cache.remember(pending, driver, id); // keeps crun's program for the next one
 */
import { readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
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

/**
 * The first line of a kept program's file: the format, then the material's length in bytes.
 * Format 2 names its file by its material's words (nameOf); format 1 by its characters.
 */
const HEADER = 'wharf-seccomp-bpf 2 ';

export class SeccompBpfCache {
  readonly #dir: string;
  /** base64 programs by material, as read or written by this process. */
  readonly #known = new Map<string, string>();
  /** The material of each key `annotate` handed out, for its `remember`. */
  readonly #pending = new Map<string, string>();

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
    const material = materialOf(JSON.stringify(seccomp), driver.binary);
    if (material === undefined) return undefined;
    let program = this.#known.get(material);
    if (program === undefined) {
      const bytes = Buffer.from(material, 'utf8');
      const key = nameOf(bytes);
      program = this.#load(key, bytes);
      if (program === undefined) {
        this.#pending.set(key, material);
        return key;
      }
      this.#known.set(material, program);
    }
    spec.annotations = { ...spec.annotations, [SECCOMP_BPF_ANNOTATION]: program };
    return undefined;
  }

  /**
   * Keeps the program crun compiled for container `id` (call after its create, before its
   * delete). Failures are ignored: the next container compiles again.
   */
  async remember(key: string, driver: RuntimeDriver, id: string): Promise<void> {
    const material = this.#pending.get(key);
    if (material === undefined) return;
    this.#pending.delete(key);
    try {
      const bytes = await readFile(join(driver.stateDir, id, 'seccomp.bpf'));
      if (!validProgram(bytes)) return;
      const kept = Buffer.from(material, 'utf8');
      const header = Buffer.from(`${HEADER}${kept.length}\n`, 'latin1');
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      await atomicWriteFile(this.#file(key), Buffer.concat([header, kept, bytes]), { mode: 0o600 });
      this.#known.set(material, bytes.toString('base64'));
      await this.#dropOldFormat();
    } catch {
      // not kept: crun compiles it next time
    }
  }

  /**
   * Removes the programs an older Wharf kept: under the SHA-256 of their key (64 hex digits,
   * program only), or in format 1 (named by another hash): never read by this format, they would
   * stay forever. Done when a program is kept, which is rare (once per profile and crun build).
   */
  async #dropOldFormat(): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith('.bpf')) continue;
      const path = join(this.#dir, name);
      const head = /^[0-9a-f]{64}\.bpf$/.test(name)
        ? ''
        : (await readFile(path).catch(() => Buffer.alloc(0))).toString('latin1', 0, HEADER.length);
      if (head !== HEADER) await rm(path, { force: true });
    }
  }

  #file(key: string): string {
    return join(this.#dir, `${key}.bpf`);
  }

  /**
   * The program (base64) kept under `key`, when its file holds that very material (`expected`,
   * its UTF-8 bytes). Read synchronously:
   * one file of a few KB on the way of every start, where readFile's four thread-pool round trips
   * (open, stat, read, close) cost 0.5-2 ms.
   */
  #load(key: string, expected: Buffer): string | undefined {
    try {
      const bytes = readFileSync(this.#file(key));
      const end = bytes.indexOf(10);
      const head = end < 0 ? '' : bytes.toString('latin1', 0, end);
      if (!head.startsWith(HEADER)) return undefined;
      const length = Number(head.slice(HEADER.length));
      if (!Number.isSafeInteger(length) || length < 0 || end + 1 + length > bytes.length) return undefined;
      const kept = bytes.subarray(end + 1, end + 1 + length);
      if (!kept.equals(expected)) return undefined;
      const program = bytes.subarray(end + 1 + length);
      if (!validProgram(program)) return undefined;
      return program.toString('base64');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }
}

/**
 * Everything a compiled program depends on, as one string (undefined when the runtime binary
 * cannot be looked at: then nothing is kept).
 */
function materialOf(seccompJson: string, binary: string): string | undefined {
  try {
    // synchronous: one stat on the way of every start, microseconds against a thread-pool round trip
    const info = statSync(binary);
    const identity = `${binary}\0${info.dev}:${info.ino}\0${info.size}\0${info.mtimeMs}`;
    return `${identity}\0${release()}\0${version()}\0${arch()}\0${seccompJson}`;
  } catch {
    return undefined;
  }
}

/**
 * A file name for `material` (its UTF-8 bytes): FNV-1a over its 32-bit words in two lanes (each
 * with its own offset basis and multiplier), 16 hex digits. Spreads names well; it is not
 * collision-resistant, and need not be (the file holds the material, compared on load). Words,
 * not characters: a quarter of the steps over the ~20 KB of a profile, which a start runs once,
 * in V8's interpreter (0.3 ms against 1-2 ms here).
 */
function nameOf(material: Buffer): string {
  // an Int32Array needs an offset that is a multiple of 4: a copy is made at one
  const bytes = material.byteOffset % 4 === 0 ? material : Buffer.from(material);
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul(b ^ word, 0x5bd1e995);
  }
  for (let i = words.length * 4; i < bytes.length; i++) {
    a = Math.imul(a ^ bytes[i]!, 0x01000193);
    b = Math.imul(b ^ bytes[i]!, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
