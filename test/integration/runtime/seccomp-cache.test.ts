// The compiled seccomp filter cache (src/runtime/seccomp-bpf-cache.ts) against real crun: the
// first container compiles the profile and the cache keeps crun's program; the next one carries
// it in `run.oci.seccomp_bpf_data` and is confined exactly as well (a filter is loaded, the
// default profile's refusals hold); a different profile gets no program of another's; runc and
// specs without seccomp are left alone.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createWithConmon, waitForExit } from '../../../src/runtime/conmon.ts';
import { readHostFacts } from '../../../src/runtime/host-facts.ts';
import type { RuntimeDriver } from '../../../src/runtime/runtime-driver.ts';
import { SECCOMP_BPF_ANNOTATION, SeccompBpfCache } from '../../../src/runtime/seccomp-bpf-cache.ts';
import { buildRuntimeSpec, serializeRuntimeSpec } from '../../../src/runtime/spec.ts';
import {
  makeRuntimeFixture,
  type RuntimeFixture,
  runtimeTestsSkipReason,
} from '../../helpers/runtime-fixture.ts';

const skip = await runtimeTestsSkipReason();

describe('seccomp filter cache', { skip }, () => {
  let fixture: RuntimeFixture;
  let cache: SeccompBpfCache;
  let cacheDir: string;
  before(async () => {
    fixture = await makeRuntimeFixture();
    cacheDir = join(fixture.root, 'runtime', 'seccomp');
    cache = new SeccompBpfCache(cacheDir);
  });
  after(async () => {
    await fixture?.cleanup();
  });

  /** Runs `script` under the default profile through the cache; returns its output. */
  async function runConfined(script: string, seccomp?: 'default' | 'unconfined') {
    const c = await fixture.prepare({ args: ['sh', '-c', script] });
    const spec = buildRuntimeSpec({
      args: ['sh', '-c', script],
      rootfs: fixture.rootfs,
      cgroupsPath: c.cgroupsPath,
      network: { mode: 'none' },
      env: ['PATH=/bin'],
      host: await readHostFacts(),
      ...(seccomp ? { seccomp } : {}),
    });
    const pending = await cache.annotate(spec, fixture.driver);
    const annotated = spec.annotations?.[SECCOMP_BPF_ANNOTATION] !== undefined;
    await writeFile(join(c.bundle, 'config.json'), serializeRuntimeSpec(spec));
    await createWithConmon({
      ...c.location,
      runtime: fixture.driver,
      logPath: c.logPath,
      conmonCgroup: fixture.conmonCgroup,
    });
    if (pending) await cache.remember(pending, fixture.driver, c.id);
    await fixture.driver.start(c.id);
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(10_000) });
    const log = await readFile(c.logPath, 'utf8');
    await fixture.driver.delete(c.id, { force: true });
    return { exit, log, annotated, pending };
  }

  it('compiles once, then hands crun its own program, which confines as well', async (t) => {
    if (fixture.driver.name !== 'crun') {
      t.skip('the annotation is crun’s; runc compiles every time');
      return;
    }
    const script = 'grep Seccomp: /proc/self/status; unshare -U true; echo unshare=$?';
    // programs an older Wharf kept, under its key's SHA-256 and in format 1 (named by another
    // hash): dropped once a program is kept
    const oldFormat = join(cacheDir, `${'ab'.repeat(32)}.bpf`);
    await mkdir(cacheDir, { recursive: true });
    await writeFile(oldFormat, Buffer.alloc(16));
    await writeFile(join(cacheDir, '0123456789abcdef.bpf'), 'wharf-seccomp-bpf 1 3\nabc12345678');
    const first = await runConfined(script);
    assert.equal(first.annotated, false, 'nothing to hand over the first time');
    assert.ok(first.pending, 'the first create leaves a program to keep');
    const kept = await readdir(cacheDir);
    assert.equal(kept.length, 1);
    const file = await readFile(join(cacheDir, kept[0]!));
    const header = /^wharf-seccomp-bpf 2 (\d+)\n/.exec(file.toString('latin1', 0, 64));
    assert.ok(header, 'the format line, then the material');
    const material = file.subarray(header[0].length, header[0].length + Number(header[1])).toString('utf8');
    assert.match(material, /SCMP_ACT_ERRNO/, 'the material holds the profile');
    const program = file.subarray(header[0].length + Number(header[1]));
    assert.ok(program.length > 0 && program.length % 8 === 0, 'whole BPF instructions');

    const second = await runConfined(script);
    assert.equal(second.annotated, true, 'the second create carries the program');
    assert.equal(second.pending, undefined);
    for (const { log } of [first, second]) {
      assert.match(log, /Seccomp:\s+2/, 'a filter is loaded');
      assert.match(log, /unshare=1/, 'the default profile refuses unshare');
    }

    // Another cache on the same directory (a new process) finds the program on disk.
    const fresh = new SeccompBpfCache(cacheDir);
    const spec = buildRuntimeSpec({
      args: ['true'],
      rootfs: fixture.rootfs,
      cgroupsPath: `${fixture.cgroupParent}/x`,
      network: { mode: 'none' },
      host: await readHostFacts(),
    });
    assert.equal(await fresh.annotate(spec, fixture.driver), undefined);
    assert.equal(spec.annotations?.[SECCOMP_BPF_ANNOTATION], program.toString('base64'));

    // A file under the same name whose material is not this profile's (a name shared by chance,
    // or forged for a permissive profile) hands over nothing: the create compiles anew.
    const forged = file.toString('latin1').replace('SCMP_ACT_ERRNO', 'SCMP_ACT_ALLOW');
    await writeFile(join(cacheDir, kept[0]!), Buffer.from(forged, 'latin1'));
    const misled = new SeccompBpfCache(cacheDir);
    const again = buildRuntimeSpec({
      args: ['true'],
      rootfs: fixture.rootfs,
      cgroupsPath: `${fixture.cgroupParent}/x`,
      network: { mode: 'none' },
      host: await readHostFacts(),
    });
    assert.equal(await misled.annotate(again, fixture.driver), kept[0]!.replace(/\.bpf$/, ''));
    assert.equal(again.annotations?.[SECCOMP_BPF_ANNOTATION], undefined);
  });

  it('keys the program by profile and runtime, and leaves other specs alone', async () => {
    const host = await readHostFacts();
    const base = { rootfs: fixture.rootfs, cgroupsPath: '/x/y', network: { mode: 'none' as const }, host };
    const crun = { ...fixture.driver, name: 'crun' } as RuntimeDriver;
    // a profile allowing what the default refuses is another key: no program of the default's
    const other = buildRuntimeSpec({ ...base, args: ['true'], capAdd: ['CAP_SYS_ADMIN'] });
    const before = await cache.annotate(other, crun);
    assert.equal(other.annotations?.[SECCOMP_BPF_ANNOTATION], undefined);
    assert.ok(before, 'an unknown profile is to be kept after its create');
    const unconfined = buildRuntimeSpec({ ...base, args: ['true'], seccomp: 'unconfined' });
    assert.equal(await cache.annotate(unconfined, crun), undefined);
    assert.equal(unconfined.annotations, undefined);
    const runc = { ...fixture.driver, name: 'runc' } as RuntimeDriver;
    const forRunc = buildRuntimeSpec({ ...base, args: ['true'] });
    assert.equal(await cache.annotate(forRunc, runc), undefined);
    assert.equal(forRunc.annotations, undefined);
  });
});
