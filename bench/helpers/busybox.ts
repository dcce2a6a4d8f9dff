/**
 * The busybox root filesystem that the side-by-side benchmarks give every tool: where its tarball
 * comes from and the `import` that turns it into an image in Docker and Podman.
 *
 * Why it exists: a comparison is only fair when Wharf, dockerd and Podman run the very same
 * files, so each benchmark brings one tarball into each tool; the tarball lookup, the rootfs tar
 * and the import's arguments were copied in four benchmarks.
 *
 * @example
 * const tar = await busyboxRootfsTar(work);
 * await must('/usr/bin/docker', busyboxImportArgs(tar, 'bench-busybox:latest'), env);
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeBusyboxRootfs } from '../../test/helpers/busybox-rootfs.ts';
import { must } from './process.ts';

/** Where scripts/make-base-images.sh caches its rootfs tarballs. */
export const BASE_CACHE = process.env.WHARF_BASE_CACHE ?? '/var/tmp/wharf-base-images';

/** The PATH of Docker Hub's busybox image, for `import --change` when the benchmark wants it. */
const BUSYBOX_PATH = 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The busybox rootfs tarball that make-base-images.sh made (and imported into Wharf) last: the
 * newest `busybox-*.tar` in BASE_CACHE (the tarballs differ only in their cache key, which hashes
 * the script too).
 *
 * @example
 * await ensureBaseImages(root);
 * const tar = await busyboxTarball();
 */
export async function busyboxTarball(): Promise<string> {
  const names = (await readdir(BASE_CACHE)).filter((name) => /^busybox-.*\.tar$/.test(name));
  const dated = await Promise.all(
    names.map(async (name) => ({
      path: join(BASE_CACHE, name),
      mtime: (await stat(join(BASE_CACHE, name))).mtimeMs,
    })),
  );
  const newest = dated.sort((a, b) => b.mtime - a.mtime)[0];
  if (!newest) throw new Error(`no busybox tarball in ${BASE_CACHE}`);
  return newest.path;
}

/**
 * Makes a busybox rootfs in `WORK/rootfs` (test/helpers/busybox-rootfs.ts) and tars it into
 * `WORK/busybox.tar`, whose path it returns.
 *
 * @example
 * const tar = await busyboxRootfsTar(work);
 */
export async function busyboxRootfsTar(work: string): Promise<string> {
  const rootfs = join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  const tar = join(work, 'busybox.tar');
  await must('tar', ['-C', rootfs, '-cf', tar, '.']);
  return tar;
}

/**
 * The arguments of `docker import` / `podman import` that make `reference` from `tar`:
 * `CMD ["sh"]`, and with `{ path: true }` busybox's ENV PATH before it.
 *
 * @example
 * busyboxImportArgs(tar, 'busybox:latest'); // ['import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']
 */
export function busyboxImportArgs(
  tar: string,
  reference: string,
  options: { path?: boolean } = {},
): string[] {
  return [
    'import',
    ...(options.path ? ['--change', BUSYBOX_PATH] : []),
    '--change',
    'CMD ["sh"]',
    tar,
    reference,
  ];
}
