/**
 * What a build step needs to *run* (mounts, copies, archives, containers, diffs, unpacking),
 * loaded only when a step runs: these modules pull in child_process and friends, which a fully
 * cached build never needs and should not pay for at start-up.
 */
export { diffDirectories, diffUpperDir } from '../image/layer/diff.ts';
export { diffSnapshot } from '../image/layer/diff-snapshot.ts';
export { unpackLayers } from '../image/layer/unpack.ts';
export { listHostDevices } from '../runtime/devices.ts';
export { mountAt, unmount } from '../snapshot/mount.ts';
export { exportLocal, exportTar } from './exporters.ts';
export { ContextLinks } from './fs/context-links.ts';
export { Copier, mkdirAll } from './fs/copy.ts';
export { cloneCopyLayer, decodeManifest, encodeManifest } from './fs/copy-reuse.ts';
export { extractArchive, isArchive } from './fs/extract-archive.ts';
export { spliceCopyLayer } from './fs/layer-splice.ts';
export { rootPath } from './fs/root-path.ts';
export { DiskTree } from './fs/source-tree.ts';
export { chownUser, execUser } from './fs/users.ts';
export { pruneCopiedUpDirs, runStep } from './run-step.ts';
