/**
 * Choosing the OCI runtime: crun is preferred (faster to start), runc is the alternative. Whether
 * crun works is not a property of crun alone: crun 1.8 refuses a hybrid cgroup host whose v2
 * hierarchy lists any controller ("cgroups in hybrid mode not supported, drop all controllers
 * from cgroupv2"), which runc accepts. So crun is probed by running a trivial container once; if
 * it fails, runc is used and the reason is kept for `wharf info`. Wharf never moves host
 * controllers around to make crun happy; scripts/setup.sh does, explicitly and only for controllers
 * no v2 cgroup uses, and the reason names that fix.
 *
 * The probe result is cached in ROOT/runtime/probe.json, keyed by what could change the answer:
 * the boot (cgroup setup), the v2 controllers, and the runtime binaries (inode, size, mtime).
 *
 * An explicit request (`--runtime crun`) that fails its probe is an error, never a fallback.
 *
 * @example
 * const selection = await selectRuntime({ root: '/var/lib/wharf' });
 * selection.driver.name;      // 'runc' here
 * selection.fallbackReason;   // 'crun 1.8.1 cannot run containers on this host: ...'
 */
import { accessSync, readFileSync, statSync } from 'node:fs';
import { access, constants as fsConstants, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '../errors/index.ts';
import { atomicWriteFile } from '../util/atomic-write.ts';
import { childProcess } from '../util/child-process.ts';
import { randomHex } from '../util/random-hex.ts';
import { cgroupLayout, removeCgroupTree } from './cgroups.ts';
import { readHostFacts } from './host-facts.ts';
import { OciRuntimeDriver, type RuntimeName, runtimeErrorMessage } from './runtime-driver.ts';
import { runtimePaths } from './runtime-paths.ts';
import { buildRuntimeSpec, serializeRuntimeSpec } from './spec.ts';

export interface RuntimeProbe {
  name: RuntimeName;
  binary: string;
  /** First line of `--version`, e.g. `crun version 1.8.1`. */
  version: string;
  ok: boolean;
  /** The runtime's own words when it failed. */
  message?: string;
}

export interface RuntimeSelection {
  driver: OciRuntimeDriver;
  version: string;
  /** Why the preferred runtime is not the one in use; absent when it is (for `wharf info`). */
  fallbackReason?: string;
  probes: RuntimeProbe[];
  /** True when the answer came from probe.json. */
  cached: boolean;
}

export interface SelectRuntimeOptions {
  /** The Wharf root (runtime state lives under ROOT/runtime). */
  root: string;
  /** `--runtime`: use this one or fail. */
  requested?: RuntimeName;
  /** Skip probe.json and probe again. */
  refresh?: boolean;
}

const PREFERENCE: readonly RuntimeName[] = ['crun', 'runc'];
// Debian puts runc in /usr/sbin, which a non-login PATH may lack.
const EXTRA_PATHS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * The absolute path of an executable on PATH (or the usual system directories). The checks are
 * synchronous: each `access` takes microseconds, where a thread-pool round trip takes 0.1-0.5 ms,
 * and a PATH like this machine's has seven directories before /usr/bin (a container's start
 * looks up conmon, crun and runc).
 */
export async function findExecutable(name: string): Promise<string | undefined> {
  return findExecutableSync(name);
}

/** findExecutable for callers that cannot wait (a constructor). */
export function findExecutableSync(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_PATHS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      // A miss (most directories) is a stat that returns undefined: an accessSync that fails
      // throws, and building each of those errors cost 0.1-0.2 ms in a CLI's cold code (1.7 ms
      // of an exec here for crun, with seven directories before /usr/bin on PATH).
      if (!statSync(candidate, { throwIfNoEntry: false })?.isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here, or not executable
    }
  }
  return undefined;
}

// Static binaries the probe container can run without any image (tini-static is also --init's).
const PROBE_BINARIES: readonly { path: string; args: string[] }[] = [
  { path: '/usr/bin/tini-static', args: ['--version'] },
  { path: '/bin/busybox', args: ['true'] },
  { path: '/usr/bin/busybox', args: ['true'] },
];

function runCommand(
  binary: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, output: Buffer.concat(chunks).toString('utf8') }),
    );
  });
}

/** Runs a trivial container with `binary` to see whether this host suits it. */
export async function probeRuntime(
  name: RuntimeName,
  binary: string,
  scratchDir: string,
): Promise<RuntimeProbe> {
  const versionRun = await runCommand(binary, ['--version'], 10_000);
  const version = versionRun.output.split('\n')[0]?.trim() || `${name} (unknown version)`;
  let probeBinary: (typeof PROBE_BINARIES)[number] | undefined;
  for (const candidate of PROBE_BINARIES) {
    if (
      await access(candidate.path, fsConstants.X_OK).then(
        () => true,
        () => false,
      )
    ) {
      probeBinary = candidate;
      break;
    }
  }
  if (!probeBinary) {
    throw new UnavailableError(
      `Cannot probe the ${name} runtime: no static binary to run (install tini-static or busybox-static)`,
    );
  }
  const token = randomHex(6);
  const bundle = join(scratchDir, `probe-${name}-${token}`);
  const id = `wharf-probe-${token}`;
  const cgroupsPath = `/wharf-probe-${token}`;
  const stateDir = join(bundle, 'state');
  const logPath = join(bundle, 'runtime.log');
  try {
    await mkdir(join(bundle, 'rootfs'), { recursive: true });
    await writeFile(join(bundle, 'rootfs', 'probe'), '');
    const spec = buildRuntimeSpec({
      args: ['/probe', ...probeBinary.args],
      rootfs: 'rootfs',
      readonlyRootfs: true,
      network: { mode: 'none' },
      cgroupsPath,
      mounts: [{ type: 'bind', source: probeBinary.path, destination: '/probe', readonly: true }],
      host: await readHostFacts(),
    });
    await writeFile(join(bundle, 'config.json'), serializeRuntimeSpec(spec));
    const driver = new OciRuntimeDriver({ name, binary, stateDir });
    const result = await runCommand(
      binary,
      [...driver.globalArgs(), ...driver.logArgs(logPath), 'run', '--bundle', bundle, id],
      20_000,
    );
    if (result.code === 0) return { name, binary, version, ok: true };
    const log = await readFile(logPath, 'utf8').catch(() => '');
    const message = runtimeErrorMessage(log || result.output);
    // A failed run can leave the container's state behind.
    await runCommand(binary, [...driver.globalArgs(), 'delete', '--force', id], 10_000).catch(
      () => undefined,
    );
    return { name, binary, version, ok: false, message };
  } finally {
    await removeCgroupTree(cgroupsPath).catch(() => undefined);
    await rm(bundle, { recursive: true, force: true });
  }
}

/** Read synchronously, as is probe.json: small files, read at the start of each run (see findExecutable). */
async function cacheKey(binaries: Map<RuntimeName, string>): Promise<string> {
  let bootId: string;
  try {
    bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8');
  } catch {
    bootId = 'unknown-boot';
  }
  const layout = await cgroupLayout();
  const parts = [bootId.trim(), layout.mode, layout.v2Controllers.join(',')];
  for (const [name, binary] of binaries) {
    const info = statSync(binary);
    parts.push(`${name}:${binary}:${info.ino}:${info.size}:${info.mtimeMs}`);
  }
  return parts.join('|');
}

interface ProbeCache {
  key: string;
  probes: RuntimeProbe[];
}

function reasonFor(probe: RuntimeProbe, layout: Awaited<ReturnType<typeof cgroupLayout>>): string {
  let reason = `${probe.version} cannot run containers on this host: ${probe.message ?? 'unknown error'}`;
  if (layout.mode === 'hybrid' && layout.v2Controllers.length > 0) {
    const names = layout.v2Controllers.join(', ');
    const first = layout.v2Controllers[0] ?? 'hugetlb';
    reason +=
      ` (cgroups are hybrid and the v2 hierarchy lists controllers: ${names}; to use crun, bind unused` +
      ` ones to v1 as scripts/setup.sh does: mount -t cgroup -o ${first} cgroup /sys/fs/cgroup/${first})`;
  }
  return reason;
}

/** Picks the runtime for a Wharf root: crun when it works here, else runc with the reason. */
export async function selectRuntime(options: SelectRuntimeOptions): Promise<RuntimeSelection> {
  if (options.requested !== undefined && !PREFERENCE.includes(options.requested)) {
    throw new InvalidArgumentError(`Cannot use runtime ${options.requested}: Wharf drives crun or runc`);
  }
  const paths = runtimePaths(options.root);
  const candidates = options.requested ? [options.requested] : [...PREFERENCE];
  const binaries = new Map<RuntimeName, string>();
  for (const name of PREFERENCE) {
    const binary = await findExecutable(name);
    if (binary) binaries.set(name, binary);
  }
  if (!candidates.some((name) => binaries.has(name))) {
    throw new UnavailableError(`Cannot find an OCI runtime: ${candidates.join(' or ')} is not installed`);
  }
  const key = await cacheKey(binaries);
  let cache: ProbeCache | undefined;
  if (!options.refresh) {
    try {
      const parsed = JSON.parse(readFileSync(paths.probeFile, 'utf8')) as ProbeCache;
      if (parsed.key === key) cache = parsed;
    } catch {
      // no cache yet, or a torn one from an older version: probe again
    }
  }
  const cached = cache !== undefined;
  const probes = cache?.probes ?? [];
  const layout = await cgroupLayout();
  const reasons: string[] = [];
  for (const name of candidates) {
    const binary = binaries.get(name);
    if (!binary) {
      reasons.push(`${name} is not installed`);
      continue;
    }
    let probe = probes.find((p) => p.name === name && p.binary === binary);
    if (!probe) {
      await mkdir(paths.scratchDir, { recursive: true });
      probe = await probeRuntime(name, binary, paths.scratchDir);
      probes.push(probe);
      await mkdir(paths.dir, { recursive: true });
      await atomicWriteFile(paths.probeFile, JSON.stringify({ key, probes } satisfies ProbeCache, null, 2));
    }
    if (probe.ok) {
      const driver = new OciRuntimeDriver({
        name,
        binary,
        stateDir: paths.stateDir(name),
        scratchDir: paths.scratchDir,
      });
      const selection: RuntimeSelection = { driver, version: probe.version, probes, cached };
      if (reasons.length > 0) selection.fallbackReason = `${reasons.join('; ')}; using ${name}`;
      return selection;
    }
    if (options.requested) {
      throw new FailedPreconditionError(`Cannot use runtime ${name}: ${reasonFor(probe, layout)}`);
    }
    reasons.push(reasonFor(probe, layout));
  }
  throw new UnavailableError(`Cannot find a working OCI runtime: ${reasons.join('; ')}`);
}
