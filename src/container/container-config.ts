/**
 * Merging a create request with its image's config, exactly as Docker's daemon does (moby's
 * `merge` in daemon/commit.go, then `mergeAndVerifyConfig` and `newContainer`):
 *
 * - Env: the request's variables, then the image's whose names the request does not set;
 * - Labels: the image's, overridden by the request's;
 * - Cmd and Entrypoint: when the request gives no entrypoint, an empty Cmd takes the image's Cmd,
 *   and an absent entrypoint takes the image's; an entrypoint of `[""]` (`--entrypoint ""`) then
 *   means none; with neither, "no command specified";
 * - WorkingDir, User, StopSignal, Healthcheck fields, exposed ports and volumes from the image
 *   where the request leaves them empty;
 * - Path/Args: the entrypoint's first word, then the rest of it and the command.
 *
 * The process environment at start adds Docker's defaults: `PATH` when missing, `HOSTNAME`,
 * `TERM=xterm` with a terminal, `HOME` from the user's passwd entry.
 *
 * @example
 * const merged = mergeImageConfig({ Image: 'busybox', Cmd: ['echo', 'hi'] }, image.config);
 * processPathAndArgs(merged); // { path: 'echo', args: ['hi'] }
 */
import { InvalidArgumentError } from '../errors/index.ts';
import type { ContainerConfig as ImageContainerConfig } from '../oci/image-config.ts';
import type { ContainerConfig, HealthConfig } from './docker-types.ts';

/** Docker's default PATH for Linux containers. */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Health-check defaults (Docker's), in nanoseconds. */
export const HEALTH_DEFAULTS = {
  interval: 30_000_000_000,
  timeout: 30_000_000_000,
  startPeriod: 0,
  startInterval: 5_000_000_000,
  retries: 3,
} as const;

function envKey(entry: string): string {
  const equals = entry.indexOf('=');
  return equals < 0 ? entry : entry.slice(0, equals);
}

/** Replaces or appends each of `additions` in `base` by variable name, keeping the order of `base`. */
export function replaceOrAppendEnv(base: readonly string[], additions: readonly string[]): string[] {
  const out = [...base];
  const index = new Map(out.map((entry, i) => [envKey(entry), i]));
  for (const entry of additions) {
    const key = envKey(entry);
    const at = index.get(key);
    if (at !== undefined) out[at] = entry;
    else {
      index.set(key, out.length);
      out.push(entry);
    }
  }
  return out;
}

/** Docker's merge of a request's config with its image's; returns a new config. */
export function mergeImageConfig(
  request: ContainerConfig,
  image: ImageContainerConfig | null | undefined,
): ContainerConfig {
  const merged: ContainerConfig = structuredClone(request);
  const img = image ?? {};
  if (!merged.User) merged.User = img.User ?? '';
  const requestEnv = merged.Env ?? [];
  const requestKeys = new Set(requestEnv.map(envKey));
  merged.Env = [...requestEnv, ...(img.Env ?? []).filter((entry) => !requestKeys.has(envKey(entry)))];
  merged.Labels = { ...(img.Labels ?? {}), ...(merged.Labels ?? {}) };
  if (!merged.Entrypoint || merged.Entrypoint.length === 0) {
    if (!merged.Cmd || merged.Cmd.length === 0) {
      merged.Cmd = img.Cmd ?? null;
      if (img.ArgsEscaped !== undefined) merged.ArgsEscaped = img.ArgsEscaped;
    }
    if (merged.Entrypoint === undefined || merged.Entrypoint === null)
      merged.Entrypoint = img.Entrypoint ?? null;
  }
  if (!merged.WorkingDir) merged.WorkingDir = img.WorkingDir ?? '';
  if (!merged.StopSignal && img.StopSignal) merged.StopSignal = img.StopSignal;
  if (img.ExposedPorts) {
    merged.ExposedPorts = {
      ...(img.ExposedPorts as Record<string, Record<string, never>>),
      ...(merged.ExposedPorts ?? {}),
    };
  }
  if (img.Volumes) {
    merged.Volumes = { ...(img.Volumes as Record<string, Record<string, never>>), ...(merged.Volumes ?? {}) };
  }
  if (img.OnBuild && !merged.OnBuild) merged.OnBuild = img.OnBuild;
  const imageHealth = img.Healthcheck;
  if (imageHealth) {
    const base: HealthConfig = {};
    if (imageHealth.Test) base.Test = [...imageHealth.Test];
    if (imageHealth.Interval) base.Interval = imageHealth.Interval;
    if (imageHealth.Timeout) base.Timeout = imageHealth.Timeout;
    if (imageHealth.StartPeriod) base.StartPeriod = imageHealth.StartPeriod;
    if (imageHealth.StartInterval) base.StartInterval = imageHealth.StartInterval;
    if (imageHealth.Retries) base.Retries = imageHealth.Retries;
    if (!merged.Healthcheck) merged.Healthcheck = base;
    else {
      const user = merged.Healthcheck;
      if (!user.Test || user.Test.length === 0) {
        if (base.Test) user.Test = base.Test;
      }
      if (!user.Interval && base.Interval) user.Interval = base.Interval;
      if (!user.Timeout && base.Timeout) user.Timeout = base.Timeout;
      if (!user.StartPeriod && base.StartPeriod) user.StartPeriod = base.StartPeriod;
      if (!user.StartInterval && base.StartInterval) user.StartInterval = base.StartInterval;
      if (!user.Retries && base.Retries) user.Retries = base.Retries;
    }
  }
  // `--entrypoint ""` resets the entrypoint (after the merge, so the image's is not taken).
  if (merged.Entrypoint && merged.Entrypoint.length === 1 && merged.Entrypoint[0] === '')
    merged.Entrypoint = null;
  if ((merged.Entrypoint ?? []).length === 0 && (merged.Cmd ?? []).length === 0) {
    throw new InvalidArgumentError('no command specified');
  }
  return merged;
}

/** Docker's `Path` and `Args`: the first word of entrypoint (or command) and the rest. */
export function processPathAndArgs(config: ContainerConfig): { path: string; args: string[] } {
  const entrypoint = config.Entrypoint ?? [];
  const cmd = config.Cmd ?? [];
  if (entrypoint.length > 0) return { path: entrypoint[0]!, args: [...entrypoint.slice(1), ...cmd] };
  if (cmd.length === 0) throw new InvalidArgumentError('no command specified');
  return { path: cmd[0]!, args: cmd.slice(1) };
}

/**
 * The environment of the container's process: Docker's defaults (`PATH`, `HOSTNAME`, `TERM`
 * with a terminal) replaced or extended by the container's Env, then `HOME` when still unset.
 */
export function processEnv(config: ContainerConfig, options: { hostname: string; home: string }): string[] {
  const defaults = [DEFAULT_PATH_ENV, `HOSTNAME=${options.hostname}`];
  if (config.Tty) defaults.push('TERM=xterm');
  const env = replaceOrAppendEnv(defaults, config.Env ?? []);
  if (!env.some((entry) => envKey(entry) === 'HOME')) env.push(`HOME=${options.home}`);
  return env;
}

/** The health check that runs, or undefined for none (no check, or `NONE`). */
export function effectiveHealthcheck(config: ContainerConfig):
  | {
      test: string[];
      shell: boolean;
      interval: number;
      timeout: number;
      startPeriod: number;
      startInterval: number;
      retries: number;
    }
  | undefined {
  const check = config.Healthcheck;
  const test = check?.Test ?? [];
  if (!check || test.length === 0 || test[0] === 'NONE') return undefined;
  const kind = test[0];
  let command: string[];
  let shell = false;
  if (kind === 'CMD') command = test.slice(1);
  else if (kind === 'CMD-SHELL') {
    command = [test.slice(1).join(' ')];
    shell = true;
  } else throw new InvalidArgumentError(`Cannot run health check: unknown test type ${kind}`);
  if (command.length === 0 || command[0] === '') return undefined;
  return {
    test: command,
    shell,
    interval: check.Interval || HEALTH_DEFAULTS.interval,
    timeout: check.Timeout || HEALTH_DEFAULTS.timeout,
    startPeriod: check.StartPeriod || HEALTH_DEFAULTS.startPeriod,
    startInterval: check.StartInterval || HEALTH_DEFAULTS.startInterval,
    retries: check.Retries || HEALTH_DEFAULTS.retries,
  };
}
