/**
 * Applying a layer to a snapshot given its mounts, without mounting when that can be avoided (as
 * containerd's `diff/apply` does): an overlay mount is applied straight into its upper directory
 * in overlay mode (whiteouts as 0:0 devices, opaque xattrs, lookups through the lower
 * directories), a read-write bind mount straight into its source. Anything else is mounted on a
 * temporary directory and applied through the mount.
 *
 * @example
 * const mounts = await snapshotter.prepare(key, parent);
 * await applyLayerToMounts(mounts, blobStream, { expectedDiffID });
 */
import { withTempMount } from '../../snapshot/mount.ts';
import type { Mount } from '../../snapshot/snapshotter.ts';
import { type ApplyOptions, type ApplyResult, applyLayer, type LayerInput } from './apply.ts';

export async function applyLayerToMounts(
  mounts: readonly Mount[],
  source: LayerInput,
  options: Omit<ApplyOptions, 'overlayLowers'> = {},
): Promise<ApplyResult> {
  const only = mounts.length === 1 ? mounts[0] : undefined;
  if (only?.type === 'overlay' && !only.target) {
    const upper = optionValue(only, 'upperdir');
    const lower = optionValue(only, 'lowerdir');
    if (upper !== undefined) {
      return applyLayer(source, upper, { ...options, overlayLowers: lower ? lower.split(':') : [] });
    }
  }
  if (only?.type === 'bind' && !only.target && !only.options.includes('ro')) {
    return applyLayer(source, only.source, options);
  }
  return withTempMount(mounts, (dir) => applyLayer(source, dir, options));
}

/** The value of `name=` in a mount's options. */
export function optionValue(mount: Mount, name: string): string | undefined {
  const option = mount.options.find((o) => o.startsWith(`${name}=`));
  return option?.slice(name.length + 1);
}
