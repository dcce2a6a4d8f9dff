/**
 * OCI whiteouts (image-spec `layer.md`) and their overlayfs forms.
 *
 * In a layer tar: `.wh.NAME` deletes NAME from the layers below; `.wh..wh..opq` in a directory
 * hides everything the layers below have in it. Other `.wh..wh.*` names (AUFS's `.wh..wh.plnk`
 * hardlink directory) are metadata and never applied. In an overlay upper directory: a 0:0
 * character device is a deletion, a directory with `trusted.overlay.opaque=y` is opaque.
 *
 * @example
 * whiteoutTarget('.wh.passwd'); // 'passwd'
 */
// The tar-side names are the OCI layer rules of src/oci/layer-path.ts (the registry reads them too).
export {
  WHITEOUT_LINK_DIR,
  WHITEOUT_META_PREFIX,
  WHITEOUT_OPAQUE,
  WHITEOUT_PREFIX,
  whiteoutTarget,
} from '../../oci/layer-path.ts';

export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
/** overlayfs's own xattrs: never copied into a layer, never accepted from one. */
export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

/**
 * Extended attributes that belong in a layer: everything but overlayfs's bookkeeping and the host's
 * SELinux label (a property of where the file sits, not of the image). `security.capability` is kept.
 */
export function isLayerXattr(name: string): boolean {
  return !name.startsWith(OVERLAY_XATTR_PREFIX) && name !== 'security.selinux';
}
