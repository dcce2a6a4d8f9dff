/**
 * What `/version` and `/info` report, gathered from the host (uname, /etc/os-release, cgroups),
 * the store (image count) and the tools on PATH (runtimes and conmon, whose versions are asked
 * once and kept). Container counts come from the container service once it is wired
 * (`containerCounts`); until then they are zero.
 *
 * @example
 * const system = new HostSystemBackend({ root, version: '0.1.0', countImages: async () => 3 });
 * (await system.describe()).images; // 3
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, readdir, readFile } from 'node:fs/promises';
import { availableParallelism, hostname, machine, release, totalmem } from 'node:os';
import { delimiter, join } from 'node:path';
import type { SystemBackend, SystemDescription } from '../engine-api/routes/system-routes.ts';
import { hostPlatform } from '../oci/platform.ts';

export interface HostSystemOptions {
  root: string;
  version: string;
  debug?: boolean;
  countImages(): Promise<number>;
  containerCounts?(): Promise<SystemDescription['containers']>;
  /** The runtime containers start with (the probe's choice) and why crun is not it, if so. */
  runtimeSelection?(): Promise<{ name: string; fallbackReason?: string }>;
}

interface StaticFacts {
  id: string;
  operatingSystem: string;
  osVersion: string;
  cgroupVersion: string;
  runtimes: Record<string, string>;
  defaultRuntime: string;
  initBinary: string;
  components: SystemDescription['components'];
}

async function which(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const path = join(dir, name);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function firstLineOf(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: 5000 }, (error, stdout) => {
      resolve(error ? '' : (stdout.split('\n')[0] ?? '').trim());
    });
  });
}

async function osRelease(): Promise<{ prettyName: string; versionId: string }> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const field = (name: string) => {
    const match = new RegExp(`^${name}=(.*)$`, 'm').exec(text);
    return match ? match[1]!.replace(/^"|"$/g, '') : '';
  };
  return { prettyName: field('PRETTY_NAME') || 'Linux', versionId: field('VERSION_ID') };
}

export class HostSystemBackend implements SystemBackend {
  readonly #options: HostSystemOptions;
  #facts: Promise<StaticFacts> | undefined;

  constructor(options: HostSystemOptions) {
    this.#options = options;
  }

  async describe(): Promise<SystemDescription> {
    const facts = await (this.#facts ??= this.#gather());
    const [images, containers, fds, selection] = await Promise.all([
      this.#options.countImages(),
      this.#options.containerCounts?.() ?? { total: 0, running: 0, paused: 0, stopped: 0 },
      readdir('/proc/self/fd').then(
        (entries) => entries.length,
        () => 0,
      ),
      this.#options.runtimeSelection?.().catch(() => undefined),
    ]);
    return {
      version: this.#options.version,
      id: facts.id,
      name: hostname(),
      kernelVersion: release(),
      operatingSystem: facts.operatingSystem,
      osVersion: facts.osVersion,
      arch: hostPlatform().architecture,
      machine: machine(),
      ncpu: availableParallelism(),
      memTotal: totalmem(),
      root: this.#options.root,
      storageDriver: 'overlayfs',
      driverStatus: [['driver-type', 'wharf snapshotter (overlay)']],
      loggingDriver: 'k8s-file',
      cgroupDriver: 'cgroupfs',
      cgroupVersion: facts.cgroupVersion,
      runtimes: facts.runtimes,
      defaultRuntime: selection?.name ?? facts.defaultRuntime,
      securityOptions: ['name=seccomp,profile=builtin'],
      initBinary: facts.initBinary,
      components: facts.components,
      warnings: selection?.fallbackReason
        ? [`WARNING: ${selection.fallbackReason}; using ${selection.name}`]
        : [],
      runtimeVersion: `node ${process.version}`,
      experimental: false,
      debug: this.#options.debug === true,
      fileDescriptors: fds,
      containers,
      images,
      insecureRegistries: (process.env.WHARF_INSECURE_REGISTRIES ?? '').split(',').filter(Boolean),
    };
  }

  async #gather(): Promise<StaticFacts> {
    const [os, machineId, unified, crun, runc, conmon, tini] = await Promise.all([
      osRelease(),
      readFile('/etc/machine-id', 'utf8').catch(() => hostname()),
      // a v2 controllers file at the top means a unified (cgroup v2 only) host; hybrid counts as v1
      access('/sys/fs/cgroup/cgroup.controllers').then(
        () => true,
        () => false,
      ),
      which('crun'),
      which('runc'),
      which('conmon'),
      which('tini-static'),
    ]);
    const runtimes: Record<string, string> = {};
    const components: SystemDescription['components'] = [];
    for (const [name, path] of [
      ['runc', runc],
      ['crun', crun],
    ] as const) {
      if (!path) continue;
      runtimes[name] = path;
      const version = (await firstLineOf(path, ['--version'])).replace(/^\S+ version /, '');
      components.push({ name, version, details: { GitCommit: '' } });
    }
    if (conmon) {
      const version = (await firstLineOf(conmon, ['--version'])).replace(/^conmon version /, '');
      components.push({ name: 'conmon', version, details: { GitCommit: '' } });
    }
    const digest = createHash('sha256').update(`${machineId.trim()}\n${this.#options.root}`).digest('hex');
    return {
      id: digest.slice(0, 32).replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5'),
      operatingSystem: os.prettyName,
      osVersion: os.versionId,
      cgroupVersion: unified ? '2' : '1',
      runtimes,
      // the runtime layer probes crun and falls back to runc (src/runtime/runtime-probe.ts)
      defaultRuntime: runc ? 'runc' : crun ? 'crun' : '',
      initBinary: tini ?? '',
      components,
    };
  }
}
