/**
 * Base images for tests, made by scripts/make-base-images.sh (the same script users run):
 * `busybox:latest` from Debian's busybox-static and, when asked, `node:local` from the host's
 * node. The rootfs tarballs are cached across runs, so each root only pays an import.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { projectRoot, wharfBin } from './wharf.ts';

const run = promisify(execFile);

export const MAKE_BASE_IMAGES = `${projectRoot}scripts/make-base-images.sh`;

/** Why base images cannot be made here, or undefined when they can (for `it(..., { skip })`). */
export function baseImagesMissing(): string | undefined {
  if (!['/bin/busybox', '/usr/bin/busybox'].some((path) => existsSync(path))) {
    return 'busybox-static is not installed (apt-get install busybox-static)';
  }
  if (!existsSync(`${projectRoot}dist/wharf.mjs`))
    return 'the wharf binary is not built (node scripts/build.mjs)';
  return undefined;
}

/**
 * Makes `busybox:latest` (and `node:local` with `{ node: true }`) in `root` unless present.
 *
 * @example
 * before(() => ensureBaseImages(root));
 */
export async function ensureBaseImages(root: string, options: { node?: boolean } = {}): Promise<void> {
  const args = ['--root', root, ...(options.node ? [] : ['--only', 'busybox'])];
  await run(MAKE_BASE_IMAGES, args, {
    env: { ...process.env, WHARF: wharfBin },
    maxBuffer: 16 * 1024 * 1024,
  });
}
