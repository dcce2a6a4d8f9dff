/**
 * Where a container's files live under a Wharf root. The record is in SQLite; these are the
 * files the runtime, conmon and the container itself use.
 *
 *   ROOT/containers/ID/
 *     bundle/             the OCI bundle: config.json (written at each start), conmon's ctl and
 *                         winsz FIFOs; ROOT/runtime/sockets/ID links here (attach socket)
 *     rootfs/             mount point of the snapshot's mounts while the container runs
 *     userdata/           conmon's persist dir: conmon.pid, pidfile, exit, oom, runtime.log
 *     hostname            bind-mounted at /etc/hostname
 *     hosts               bind-mounted at /etc/hosts
 *     resolv.conf         bind-mounted at /etc/resolv.conf
 *     ctr.log             the CRI log conmon writes (Docker's LogPath)
 *     cleaned-N           marker: the exit of run N has been handled (the exit command skips)
 *     exec/               exec sessions: EXECID.json (process.json), EXECID.pid
 *     health.lock         held by the health-check loop
 *
 * The writable layer itself is a snapshot (`ROOT/snapshots/overlay/snapshots/N/fs`), keyed
 * `container-ID`; see the snapshotter.
 *
 * @example
 * const paths = containerPaths('/var/lib/wharf', id);
 * paths.bundle; // /var/lib/wharf/containers/ID/bundle
 */
import { join } from 'node:path';
import type { ConmonLocation } from '../runtime/conmon.ts';
import { runtimePaths } from '../runtime/runtime-paths.ts';

export interface ContainerPaths {
  dir: string;
  bundle: string;
  configJson: string;
  rootfs: string;
  userdata: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  log: string;
  execDir: string;
  /** The marker written once the exit of run `generation` has been handled. */
  cleanedMarker(generation: number): string;
  /** What conmon.ts needs to find the container's conmon files. */
  location: ConmonLocation;
}

export function containersDir(root: string): string {
  return join(root, 'containers');
}

export function containerPaths(root: string, id: string): ContainerPaths {
  const dir = join(containersDir(root), id);
  const bundle = join(dir, 'bundle');
  const userdata = join(dir, 'userdata');
  const runtime = runtimePaths(root);
  return {
    dir,
    bundle,
    configJson: join(bundle, 'config.json'),
    rootfs: join(dir, 'rootfs'),
    userdata,
    hostname: join(dir, 'hostname'),
    hosts: join(dir, 'hosts'),
    resolvConf: join(dir, 'resolv.conf'),
    log: join(dir, 'ctr.log'),
    execDir: join(dir, 'exec'),
    cleanedMarker: (generation) => join(dir, `cleaned-${generation}`),
    location: { id, bundle, userdataDir: userdata, exitDir: runtime.exitDir, socketDir: runtime.socketDir },
  };
}
