/**
 * A throwaway runtime setup for integration tests: a temp Wharf root, a busybox rootfs, the
 * selected OCI runtime, and a cgroup parent of its own (`/wharf-test-XXXX`, conmon in
 * `/wharf-test-XXXX/conmon`). `cleanup()` kills and deletes every container the runtime knows in
 * this root, kills the conmons it started, removes the cgroups and the temp dir: call it in
 * `after`, it is safe after a failure.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeCgroupTree } from '../../src/runtime/cgroups.ts';
import {
  type ConmonLocation,
  type ConmonOptions,
  conmonPaths,
  createWithConmon,
} from '../../src/runtime/conmon.ts';
import { readHostFacts } from '../../src/runtime/host-facts.ts';
import type { OciRuntimeDriver } from '../../src/runtime/runtime-driver.ts';
import { runtimePaths } from '../../src/runtime/runtime-paths.ts';
import { type RuntimeSelection, selectRuntime } from '../../src/runtime/runtime-probe.ts';
import { buildRuntimeSpec, type SpecOptions, serializeRuntimeSpec } from '../../src/runtime/spec.ts';
import { makeBusyboxBundleDir } from './busybox-rootfs.ts';

export interface TestContainer {
  id: string;
  bundle: string;
  location: ConmonLocation;
  logPath: string;
  cgroupsPath: string;
}

export interface RuntimeFixture {
  dir: string;
  root: string;
  rootfs: string;
  selection: RuntimeSelection;
  driver: OciRuntimeDriver;
  cgroupParent: string;
  conmonCgroup: string;
  /** Writes a bundle (config.json over the shared busybox rootfs) for a new container id. */
  prepare(spec: Partial<SpecOptions> & { args: string[] }): Promise<TestContainer>;
  /** prepare + create under conmon + start. */
  run(
    spec: Partial<SpecOptions> & { args: string[] },
    conmon?: Partial<ConmonOptions>,
  ): Promise<TestContainer & { pid: number; conmonPid: number }>;
  cleanup(): Promise<void>;
}

export async function makeRuntimeFixture(): Promise<RuntimeFixture> {
  const bundleDir = await makeBusyboxBundleDir('wharf-rt-test-');
  const root = join(bundleDir.dir, 'root');
  const token = randomBytes(4).toString('hex');
  const cgroupParent = `/wharf-test-${token}`;
  const conmonCgroup = `${cgroupParent}/conmon`;
  const selection = await selectRuntime({ root });
  const { driver } = selection;
  const paths = runtimePaths(root);
  const host = await readHostFacts();
  const created: TestContainer[] = [];

  const prepare: RuntimeFixture['prepare'] = async (spec) => {
    const id = `t${token}${randomBytes(6).toString('hex')}`;
    const bundle = join(bundleDir.dir, 'containers', id);
    const userdataDir = join(bundle, 'userdata');
    await mkdir(userdataDir, { recursive: true });
    const cgroupsPath = `${cgroupParent}/${id}`;
    const config = buildRuntimeSpec({
      rootfs: bundleDir.rootfs,
      cgroupsPath,
      network: { mode: 'none' },
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'],
      host,
      ...spec,
    });
    await writeFile(join(bundle, 'config.json'), serializeRuntimeSpec(config));
    const container: TestContainer = {
      id,
      bundle,
      location: { id, bundle, userdataDir, exitDir: paths.exitDir, socketDir: paths.socketDir },
      logPath: join(userdataDir, 'ctr.log'),
      cgroupsPath,
    };
    created.push(container);
    return container;
  };

  return {
    dir: bundleDir.dir,
    root,
    rootfs: bundleDir.rootfs,
    selection,
    driver,
    cgroupParent,
    conmonCgroup,
    prepare,
    async run(spec, conmon = {}) {
      const container = await prepare(spec);
      const started = await createWithConmon({
        ...container.location,
        runtime: driver,
        logPath: container.logPath,
        conmonCgroup,
        ...conmon,
      });
      await driver.start(container.id);
      return { ...container, ...started };
    },
    async cleanup() {
      const problems: unknown[] = [];
      for (const state of await driver.list().catch(() => [])) {
        await driver.kill(state.id, 'SIGKILL', { all: true }).catch(() => undefined);
        await driver.delete(state.id, { force: true }).catch((error: unknown) => problems.push(error));
      }
      for (const container of created) {
        const pidText = await readFile(conmonPaths(container.location).conmonPidFile, 'utf8').catch(() => '');
        const pid = Number(pidText.trim());
        if (pid > 0) {
          try {
            const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
            if (cmdline.includes(container.id)) process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      // conmon and the runtime release the cgroups a moment after their processes die.
      for (let attempt = 0; ; attempt++) {
        try {
          await removeCgroupTree(cgroupParent);
          break;
        } catch (error) {
          if (attempt >= 50) {
            problems.push(error);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await rm(bundleDir.dir, { recursive: true, force: true });
      if (problems.length > 0) throw new AggregateError(problems, 'runtime fixture cleanup failed');
    },
  };
}

/** Why runtime integration tests cannot run on this machine, or undefined when they can. */
export async function runtimeTestsSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'runtime tests need root';
  const { findExecutable } = await import('../../src/runtime/runtime-probe.ts');
  const { busyboxMissing } = await import('./busybox-rootfs.ts');
  const missing = busyboxMissing();
  if (missing) return missing;
  for (const tool of ['conmon', 'socat']) {
    if (!(await findExecutable(tool))) return `${tool} is not installed`;
  }
  if (!(await findExecutable('runc')) && !(await findExecutable('crun')))
    return 'neither runc nor crun is installed';
  return undefined;
}
