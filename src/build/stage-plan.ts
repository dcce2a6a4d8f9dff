/**
 * From parsed stages to what the builder runs, with BuildKit's rules (dockerfile2llb's
 * buildDispatchStates, resolveTarget, buildStageDependencyGraph, resolveReachableStages):
 *
 * - each FROM is expanded with the global args; its base is `scratch`, an earlier stage of that
 *   name (case-insensitive) or an image;
 * - `COPY --from` and `RUN --mount=from` name a stage (by name or index) or else an image; they
 *   may hold no variable, and a stage must be defined before the one copying from it;
 * - the target is `--target` (did-you-mean on a typo) or the last stage, and only the stages it
 *   reaches through bases and `--from` are built;
 * - progress names are `[name i/n]` (`stage-N` for an unnamed stage of a multi-stage file, no
 *   name at all for a single stage), n counting FROM (of an image) and every ADD, COPY, RUN and
 *   WORKDIR.
 *
 * @example
 * const plan = planStages(parsed, args, { target: 'build' });
 * plan.reachable; // the stages to build, in Dockerfile order
 */
import { DockerfileError } from '../dockerfile/errors.ts';
import { suggestCaseSensitive } from '../dockerfile/instructions/flags.ts';
import type { BuildArgs, Command, Stage } from '../dockerfile/instructions/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';

export type StageBase =
  | { kind: 'scratch' }
  | { kind: 'stage'; stage: PlannedStage }
  | { kind: 'image'; reference: string };

export interface PlannedStage {
  stage: Stage;
  index: number;
  /** The name used in progress (`build`, `stage-1`, or '' for a single stage). */
  displayName: string;
  base: StageBase;
  /** The expanded `--platform`, when given. */
  platform: string;
  /** ADD/COPY/RUN/WORKDIR count, plus one for FROM of an image. */
  total: number;
  /** Stages and images this one copies from, by the `--from` value. */
  copySources: Map<string, CopySource>;
}

export interface StagePlan {
  stages: PlannedStage[];
  target: PlannedStage;
  /** The stages the target needs (itself included), in Dockerfile order. */
  reachable: PlannedStage[];
}

const byName = (stages: readonly PlannedStage[], name: string): PlannedStage | undefined =>
  stages.find((s) => s.stage.name !== '' && s.stage.name === name.toLowerCase());

type CopySource = { kind: 'stage'; stage: PlannedStage } | { kind: 'image'; reference: string };

/** What `COPY --from=<from>` (or `RUN --mount=from=<from>`) in stage `p` names, with BuildKit's checks. */
function copySource(
  planned: readonly PlannedStage[],
  p: PlannedStage,
  from: string,
  cmd: Command,
): CopySource {
  const mount = cmd.kind === 'run';
  if (/\$/.test(from)) {
    throw new DockerfileError(
      cmd.file,
      cmd.range.startLine,
      'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
    );
  }
  let source: PlannedStage | undefined;
  if (/^-?\d+$/.test(from)) {
    const index = Number(from);
    source = planned[index];
    if (!source) throw new DockerfileError(cmd.file, cmd.range.startLine, `invalid stage index ${index}`);
  } else source = byName(planned, from);
  if (!source) return { kind: 'image', reference: from };
  if (source === p) {
    throw new DockerfileError(
      cmd.file,
      cmd.range.startLine,
      `circular dependency detected on stage: ${p.displayName || from}`,
    );
  }
  if (source.index > p.index) {
    throw new DockerfileError(
      cmd.file,
      cmd.range.startLine,
      mount
        ? `cannot mount from stage ${JSON.stringify(from)}, stage needs to be defined before current command`
        : `cannot copy from stage ${JSON.stringify(from)}, it needs to be defined before current stage ${JSON.stringify(p.stage.name || p.displayName)}`,
    );
  }
  return { kind: 'stage', stage: source };
}

/** Resolves the `--from` of a command met while building (an ONBUILD trigger's). */
export function resolveCopySource(plan: StagePlan, p: PlannedStage, from: string, cmd: Command): CopySource {
  const source = copySource(plan.stages, p, from, cmd);
  p.copySources.set(from, source);
  return source;
}

export function planStages(
  stages: readonly Stage[],
  args: BuildArgs,
  options: { target?: string },
): StagePlan {
  const planned: PlannedStage[] = [];
  for (const stage of stages) {
    const expanded = args.expandFrom(stage);
    const baseName = expanded.baseName;
    let base: StageBase;
    const earlier = byName(planned, baseName);
    if (baseName === 'scratch') base = { kind: 'scratch' };
    else if (earlier) base = { kind: 'stage', stage: earlier };
    else base = { kind: 'image', reference: baseName };
    let total = base.kind === 'image' ? 1 : 0;
    for (const cmd of stage.commands) {
      if (cmd.kind === 'add' || cmd.kind === 'copy' || cmd.kind === 'run' || cmd.kind === 'workdir') total++;
    }
    planned.push({
      stage,
      index: stage.index,
      displayName: stage.name || `stage-${stage.index}`,
      base,
      platform: expanded.platform,
      total,
      copySources: new Map(),
    });
  }
  if (planned.length === 1) planned[0]!.displayName = '';

  // COPY --from and RUN --mount=from: a stage by name or index, else an image.
  for (const p of planned) {
    for (const cmd of p.stage.commands) {
      if (cmd.kind === 'copy' && cmd.from !== '')
        p.copySources.set(cmd.from, copySource(planned, p, cmd.from, cmd));
      if (cmd.kind === 'run') {
        for (const mount of cmd.mounts) {
          if (mount.from !== '') p.copySources.set(mount.from, copySource(planned, p, mount.from, cmd));
        }
      }
    }
  }

  let target: PlannedStage;
  if (options.target) {
    const found = byName(planned, options.target);
    if (!found) {
      const names = planned.map((s) => s.stage.name).filter((n) => n !== '');
      const hint = suggestCaseSensitive(options.target.toLowerCase(), names);
      throw new InvalidArgumentError(
        `target stage ${JSON.stringify(options.target)} could not be found${hint ? ` (did you mean ${hint}?)` : ''}`,
      );
    }
    target = found;
  } else target = planned.at(-1)!;

  const needed = new Set<PlannedStage>();
  const visit = (p: PlannedStage): void => {
    if (needed.has(p)) return;
    needed.add(p);
    if (p.base.kind === 'stage') visit(p.base.stage);
    for (const source of p.copySources.values()) if (source.kind === 'stage') visit(source.stage);
  };
  visit(target);
  return { stages: planned, target, reachable: planned.filter((p) => needed.has(p)) };
}
