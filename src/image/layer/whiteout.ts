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
export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const WHITEOUT_LINK_DIR = '.wh..wh.plnk';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
/** overlayfs's own xattrs: never copied into a layer, never accepted from one. */
export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

/** The name a `.wh.NAME` entry deletes, or undefined when `base` is not a plain whiteout. */
export function whiteoutTarget(base: string): string | undefined {
  if (!base.startsWith(WHITEOUT_PREFIX) || base.startsWith(WHITEOUT_META_PREFIX)) return undefined;
  return base.slice(WHITEOUT_PREFIX.length);
}

/**
 * Extended attributes that belong in a layer: everything but overlayfs's bookkeeping and the host's
 * SELinux label (a property of where the file sits, not of the image). `security.capability` is kept.
 */
export function isLayerXattr(name: string): boolean {
  return !name.startsWith(OVERLAY_XATTR_PREFIX) && name !== 'security.selinux';
}
