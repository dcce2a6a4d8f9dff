/**
 * Where the runtime layer keeps its files under a Wharf root. All of it is per root, so two roots
 * (two test runs) never share runtime state, exit files or sockets.
 *
 *   ROOT/runtime/
 *     probe.json        the cached crun/runc probe (see runtime-probe.ts)
 *     state/runc/       `runc --root`: one directory per container (state.json, exec fifo)
 *     state/crun/       `crun --root`
 *     exits/ID          conmon's --exit-dir: the exit code of container ID, written when it exits
 *     sockets/ID        conmon's --socket-dir-path: a symlink to the bundle, so that
 *                       sockets/ID/attach (the SEQPACKET attach socket) has a short path
 *     scratch/          short-lived files: exec process.json, runtime logs, probe bundles
 *     seccomp/KEY.bpf   seccomp filters crun compiled, for the next containers with the same
 *                       profile (see seccomp-bpf-cache.ts)
 *
 * Per-container files (the bundle, conmon's pid files, persist dir with `exit` and `oom`, the log)
 * live in the container's own directory, which the container layer owns and passes in.
 *
 * @example
 * const paths = runtimePaths('/var/lib/wharf');
 * paths.stateDir('runc'); // /var/lib/wharf/runtime/state/runc
 */
import { join } from 'node:path';
import type { RuntimeName } from './runtime-driver.ts';

export interface RuntimePaths {
  dir: string;
  probeFile: string;
  stateDir(name: RuntimeName): string;
  exitDir: string;
  socketDir: string;
  scratchDir: string;
  seccompDir: string;
}

export function runtimePaths(wharfRoot: string): RuntimePaths {
  const dir = join(wharfRoot, 'runtime');
  return {
    dir,
    probeFile: join(dir, 'probe.json'),
    stateDir: (name) => join(dir, 'state', name),
    exitDir: join(dir, 'exits'),
    socketDir: join(dir, 'sockets'),
    scratchDir: join(dir, 'scratch'),
    seccompDir: join(dir, 'seccomp'),
  };
}
