/**
 * A build fixture for integration tests: a temp Wharf root with `busybox:latest` (made by
 * scripts/make-base-images.sh), contexts written from a map of files, builds run in-process
 * through the same service `wharf build` uses (real snapshots, real runc), and the result read
 * back: the image config from the content store and the filesystem from its layers.
 *
 * @example
 * const fx = await buildFixture();
 * after(() => fx.cleanup());
 * const image = await fx.build('FROM busybox\nRUN echo hi > /x\n');
 * assert.equal(await image.read('/x'), 'hi\n');
 */
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { BuildInput, BuildResult, BuildService } from '../../../src/engine/build-service.ts';
import { BuildProgress, openBuildEngine, PlainProgressPrinter } from '../../../src/engine/build-service.ts';
import type { ImageConfig } from '../../../src/oci/image-config.ts';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';

const run = promisify(execFile);

/** Why these tests cannot run here (for `describe(..., { skip })`). */
export function buildTestsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'build tests need root (overlay mounts, runc)';
  return baseImagesMissing();
}

/** A file of a context: text, or text with a mode, or a symlink. */
export type ContextFile = string | { content: string | Buffer; mode?: number } | { symlink: string };

export interface BuiltImage extends BuildResult {
  config: ImageConfig;
  /** The progress text of the build. */
  output: string;
  /** The image's filesystem, extracted from its layers (cached per image). */
  rootfs(): Promise<string>;
  read(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  stat(path: string): Promise<import('node:fs').Stats>;
  readlink(path: string): Promise<string>;
  /** The entries of layer `index` (from the top when negative), as `tar -tv` lists them. */
  layerListing(index: number): Promise<string[]>;
}

export interface BuildFixture {
  root: string;
  /** Writes `files` into a fresh context dir and builds `dockerfile` (written as ./Dockerfile unless null). */
  build(
    dockerfile: string | null,
    files?: Record<string, ContextFile>,
    options?: Partial<BuildInput>,
  ): Promise<BuiltImage>;
  /** Like build, but in an existing context directory. */
  buildIn(context: string, options?: Partial<BuildInput>): Promise<BuiltImage>;
  /** A fresh context dir with `files`. */
  context(files: Record<string, ContextFile>): Promise<string>;
  /** Expects the build to fail; returns the error and the progress text. */
  fails(
    dockerfile: string,
    files?: Record<string, ContextFile>,
    options?: Partial<BuildInput>,
  ): Promise<{ error: Error; output: string }>;
  service(): BuildService;
  cleanup(): Promise<void>;
}

export async function writeContext(dir: string, files: Record<string, ContextFile>): Promise<void> {
  for (const [name, file] of Object.entries(files)) {
    const path = join(dir, name);
    await mkdir(dirname(path), { recursive: true });
    if (typeof file === 'string') await writeFile(path, file);
    else if ('symlink' in file) await symlink(file.symlink, path);
    else await writeFile(path, file.content, file.mode !== undefined ? { mode: file.mode } : {});
  }
}

export async function buildFixture(): Promise<BuildFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-build-test-'));
  const root = join(dir, 'root');
  await ensureBaseImages(root);
  const service = await openBuildEngine(root);
  const extracted = new Map<string, Promise<string>>();
  let contexts = 0;

  const image = async (result: BuildResult, output: string): Promise<BuiltImage> => {
    const configPath = join(root, 'content', 'blobs', 'sha256', result.imageId.slice('sha256:'.length));
    const config = JSON.parse(await readFile(configPath, 'utf8')) as ImageConfig;
    const blob = (digest: string) => join(root, 'content', 'blobs', 'sha256', digest.slice('sha256:'.length));
    const rootfs = () => {
      let job = extracted.get(result.imageId);
      if (!job) {
        job = (async () => {
          const target = join(dir, `fs-${result.imageId.slice(7, 19)}`);
          await mkdir(target, { recursive: true });
          for (const diffId of config.rootfs.diff_ids) {
            // whiteouts are applied by hand: remove the target, then the marker
            const { stdout } = await run('tar', ['-tf', blob(diffId)], { maxBuffer: 64 << 20 });
            for (const name of stdout.split('\n')) {
              const base = name.split('/').pop() ?? '';
              if (base.startsWith('.wh.') && base !== '.wh..wh..opq') {
                await rm(join(target, dirname(name), base.slice(4)), { recursive: true, force: true });
              }
            }
            await run('tar', [
              '-xf',
              blob(diffId),
              '-C',
              target,
              '--numeric-owner',
              '--same-owner',
              '--exclude=*.wh.*',
            ]);
          }
          return target;
        })();
        extracted.set(result.imageId, job);
      }
      return job;
    };
    return {
      ...result,
      config,
      output,
      rootfs,
      read: async (path) => readFile(join(await rootfs(), path), 'utf8'),
      exists: async (path) =>
        lstat(join(await rootfs(), path)).then(
          () => true,
          () => false,
        ),
      stat: async (path) => lstat(join(await rootfs(), path)),
      readlink: async (path) => readlink(join(await rootfs(), path)),
      layerListing: async (index) => {
        const ids = config.rootfs.diff_ids;
        const id = ids[index < 0 ? ids.length + index : index]!;
        const { stdout } = await run('tar', ['-tvf', blob(id), '--numeric-owner'], { maxBuffer: 64 << 20 });
        return stdout.split('\n').filter(Boolean);
      },
    };
  };

  const makeContext = async (files: Record<string, ContextFile>) => {
    const ctx = join(dir, `ctx-${++contexts}`);
    await mkdir(ctx, { recursive: true });
    await writeContext(ctx, files);
    return ctx;
  };

  const buildIn = async (context: string, options: Partial<BuildInput> = {}): Promise<BuiltImage> => {
    let output = '';
    const progress = new BuildProgress(new PlainProgressPrinter({ write: (t: string) => (output += t) }));
    try {
      const result = await service.buildFrom({ context: { directory: context }, progress, ...options });
      return image(result, output);
    } catch (error) {
      (error as Error & { output?: string }).output = output;
      throw error;
    }
  };

  const build = async (
    dockerfile: string | null,
    files: Record<string, ContextFile> = {},
    options: Partial<BuildInput> = {},
  ) => {
    const ctx = await makeContext(dockerfile === null ? files : { Dockerfile: dockerfile, ...files });
    return buildIn(ctx, options);
  };

  return {
    root,
    build,
    buildIn,
    context: makeContext,
    async fails(dockerfile, files = {}, options = {}) {
      try {
        await build(dockerfile, files, options);
      } catch (error) {
        return { error: error as Error, output: (error as { output?: string }).output ?? '' };
      }
      throw new Error('the build succeeded but was expected to fail');
    },
    service: () => service,
    async cleanup() {
      await service.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The config's Env as a map. */
export function envOf(config: ImageConfig): Map<string, string> {
  return new Map(
    (config.config?.Env ?? []).map((e) => {
      const i = e.indexOf('=');
      return [e.slice(0, i), e.slice(i + 1)] as [string, string];
    }),
  );
}
