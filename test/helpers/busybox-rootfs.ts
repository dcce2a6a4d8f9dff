/**
 * A bare root filesystem for runtime tests, made from Debian's static busybox: /bin/busybox plus
 * one symlink per applet, and the few directories and files a container expects. No image, no
 * layers: the runtime layer knows nothing of images.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((path) => existsSync(path));

/** Why busybox rootfs tests cannot run here, or undefined when they can. */
export function busyboxMissing(): string | undefined {
  return BUSYBOX ? undefined : 'busybox-static is not installed (apt-get install busybox-static)';
}

/** Writes a busybox root filesystem into `dir` (created if needed). */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  if (!BUSYBOX) throw new Error(busyboxMissing());
  for (const sub of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root']) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await copyFile(BUSYBOX, join(dir, 'bin', 'busybox'));
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    if (applet === 'busybox') continue;
    await symlink('busybox', join(dir, 'bin', applet));
  }
  await writeFile(
    join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  await writeFile(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/** A temp directory holding `rootfs/` (busybox), for one test file; remove it with `dispose`. */
export async function makeBusyboxBundleDir(
  prefix = 'wharf-rt-',
): Promise<{ dir: string; rootfs: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const rootfs = join(dir, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  return { dir, rootfs, dispose: () => rm(dir, { recursive: true, force: true }) };
}
