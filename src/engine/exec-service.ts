/**
 * `exec` for one CLI command without the container service: only the metadata database opens,
 * and the code loaded is the record lookup, the run's liveness check and the exec itself
 * (src/container/container-exec.ts), not the lifecycle, the hooks or the snapshotter. `exec` is
 * a command scripts loop over (a health probe, `docker exec` in CI jobs), so its start-up is
 * most of what it costs.
 *
 * It execs into a container whose record says running, whose conmon is alive and which has
 * recorded no exit. Any other case (exited, its conmon killed, paused, restarting...) must first
 * be reconciled by the container service (its lookup handles the exit, runs the hooks), so
 * `tryExec` leaves it to the caller, who then uses the service's own `exec`: errors and side
 * effects stay exactly the service's.
 *
 * @example
 * const execs = openExecService(root, { wharfCommand });
 * try { const handle = await execs.tryExec('web', { cmd: ['ls'] }) ?? (await service.exec(...)); }
 * finally { execs.close(); }
 */
import { ContainerContext, type ImageSource, type WharfCommand } from '../container/container-context.ts';
import { type ExecHandle, type ExecRequest, execInContainer } from '../container/container-exec.ts';
import { CONTAINER_MIGRATIONS } from '../container/container-records.ts';
import { runningAsRecorded } from '../container/run-liveness.ts';
import { InternalError } from '../errors/index.ts';
import { openMetadataDatabase } from '../metadata/database.ts';
import type { RuntimeName } from '../runtime/runtime-driver.ts';
import { tracePhase } from '../util/phase-trace.ts';

export interface ExecService {
  /**
   * The service's `exec` (container-service.ts) by id, name or unique id prefix, when the
   * container plainly runs; undefined when its record must be reconciled first (use the
   * container service then). NotFoundError when there is no such container.
   */
  tryExec(idOrName: string, request: ExecRequest): Promise<ExecHandle | undefined>;
  close(): void;
}

/** exec never reads images nor opens snapshots: the context's image side says so if asked. */
const NO_IMAGES: ImageSource = {
  resolve: () => Promise.reject(new InternalError('Cannot resolve images: exec has no image store')),
  unpack: () => Promise.reject(new InternalError('Cannot unpack images: exec has no image store')),
};

export function openExecService(
  root: string,
  wiring: { wharfCommand: WharfCommand; runtime?: RuntimeName },
): ExecService {
  const db = openMetadataDatabase(root, { migrations: CONTAINER_MIGRATIONS });
  tracePhase('exec: database open');
  const context = new ContainerContext({
    root,
    db,
    images: NO_IMAGES,
    snapshotter: () => Promise.reject(new InternalError('Cannot open snapshots: exec has none')),
    wharfCommand: wiring.wharfCommand,
    ...(wiring.runtime ? { defaultRuntime: wiring.runtime } : {}),
  });
  return {
    async tryExec(idOrName, request) {
      const record = context.records.find(idOrName);
      tracePhase('exec: found', record.id);
      if (!(await runningAsRecorded(root, record))) return undefined;
      return execInContainer(context, record, request);
    },
    close() {
      db.close();
    },
  };
}
