/**
 * The classic builder's output (what `DOCKER_BUILDKIT=0 docker build` and docker-compose show)
 * made from the builder's BuildKit-style progress. The builder reports vertices only for the
 * steps that make layers (`[2/4] COPY . .`, `FROM`, RUN, WORKDIR) and runs stages in parallel;
 * the classic builder numbers every instruction and prints them one after the other:
 *
 *   Step 1/4 : FROM busybox
 *    ---> 8135583d97fe
 *   Step 2/4 : RUN echo hi
 *   hi
 *    ---> 3b5d0f5a1c2e
 *   Step 3/4 : COPY . /app
 *    ---> Using cache
 *    ---> 0c5d1e2f3a4b
 *   Step 4/4 : CMD ["sh"]
 *    ---> 5e6f7a8b9c0d        <- the image id, as `Successfully built` says next
 *
 * So the printer holds a plan made from the Dockerfile: the global ARGs, then the instructions of
 * the stages the target needs (the builder skips the others, so they are not shown), numbered in
 * file order. Each vertex is matched to its instruction by stage and keyword; instructions that
 * make no vertex (ENV, CMD...) are done once an instruction after them in their stage has started,
 * or when the build ends. Output goes out in plan order: a stage built in parallel with an earlier
 * one has its lines held until the earlier one is printed.
 *
 * The ` ---> ID` lines: the FROM image's id, and the built image's id after the last step. Wharf
 * keeps no intermediate images (as BuildKit keeps none), so the other steps show a step id, a
 * digest of the instructions so far: stable across rebuilds, but not an image `docker run` knows.
 *
 * @example
 * const output = new ClassicBuildOutput(description, { target, write: (text) => send({ stream: text }) });
 * await builds.buildFrom({ ..., progress: new BuildProgress(output) });
 * output.finish(result.imageId);
 */
import { createHash } from 'node:crypto';
import type { ProgressPrinter } from '../engine/build-service.ts';
import type { DockerfileDescription, StageDescription } from '../engine/dockerfile-parse.ts';

export interface ClassicBuildOutputOptions {
  /** `--target`: the stage the build stops at (default: the last). */
  target?: string;
  /** Sends text to the client (one `{stream}` message). */
  write: (text: string) => void;
  /** The id of a base image by its normalized name (`docker.io/library/busybox:latest`). */
  imageId?: (name: string) => string | undefined;
}

interface PlanStep {
  /** 1-based, over the whole plan. */
  number: number;
  /** Index in `#stages`, or undefined for a global ARG. */
  stage: number | undefined;
  keyword: string;
  original: string;
  /** The builder reports this instruction as a vertex (it may still skip it: `WORKDIR /`). */
  vertex: boolean;
  state: 'pending' | 'started' | 'done' | 'error';
  cached: boolean;
  /** Output not printed yet (the step is not the one being printed). */
  lines: string[];
  headerPrinted: boolean;
  /** The id shown after the step; for FROM the base image's. */
  id?: string;
}

interface PlanStage {
  description: StageDescription;
  /** The name its vertices carry (`builder`, `stage-2`). */
  displayName: string;
  steps: PlanStep[];
  /** Where the next vertex of the stage is looked for. */
  cursor: number;
  /** Index of the stage it is built on, when FROM names an earlier stage. */
  baseStage: number | undefined;
}

const VERTEX_KEYWORDS = new Set(['FROM', 'RUN', 'COPY', 'ADD', 'WORKDIR']);
const STEP_VERTEX = /^\[(?:(\S+) +)?\s*\d+\/\d+\] (.*)$/s;

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function stageIndexByName(
  stages: readonly StageDescription[],
  name: string,
  before: number,
): number | undefined {
  const lower = name.toLowerCase();
  const named = stages.findIndex((stage, i) => i < before && stage.name === lower);
  if (named >= 0) return named;
  if (/^\d+$/.test(name) && Number(name) < before) return Number(name);
  return undefined;
}

/** The stages `target` needs (itself, the stages it is built on and copies from), by index. */
export function neededStages(description: DockerfileDescription, target: string | undefined): Set<number> {
  const stages = description.stages;
  let last = stages.length - 1;
  if (target) {
    const index = stages.findIndex((stage) => stage.name === target.toLowerCase());
    if (index >= 0) last = index;
  }
  const needed = new Set<number>();
  const visit = (index: number): void => {
    if (needed.has(index) || index < 0) return;
    needed.add(index);
    const stage = stages[index]!;
    const base = stageIndexByName(stages, stage.base, index);
    if (base !== undefined) visit(base);
    for (const instruction of stage.instructions) {
      for (const flag of instruction.flags) {
        if (!flag.startsWith('--from=')) continue;
        const source = stageIndexByName(stages, flag.slice('--from='.length), index);
        if (source !== undefined) visit(source);
      }
    }
  };
  visit(last);
  return needed;
}

export class ClassicBuildOutput implements ProgressPrinter {
  readonly #write: (text: string) => void;
  readonly #imageId: (name: string) => string | undefined;
  readonly #steps: PlanStep[] = [];
  readonly #stages: PlanStage[] = [];
  /** Vertex id -> the step it reports. */
  readonly #vertices = new Map<number, PlanStep>();
  /** The next step to print. */
  #next = 0;
  #finished = false;

  constructor(description: DockerfileDescription, options: ClassicBuildOutputOptions) {
    this.#write = options.write;
    this.#imageId = options.imageId ?? (() => undefined);
    const needed = neededStages(description, options.target);
    const step = (stage: number | undefined, keyword: string, original: string, vertex: boolean) => {
      const planned: PlanStep = {
        number: this.#steps.length + 1,
        stage,
        keyword,
        original,
        vertex,
        state: 'pending',
        cached: false,
        lines: [],
        headerPrinted: false,
      };
      this.#steps.push(planned);
      return planned;
    };
    for (const instruction of description.global)
      step(undefined, instruction.instruction, instruction.original, false);
    const kept = description.stages.filter((stage) => needed.has(stage.index));
    for (const stage of kept) {
      const baseStage = stageIndexByName(description.stages, stage.base, stage.index);
      const planStage: PlanStage = {
        description: stage,
        displayName: kept.length === 1 ? '' : stage.name || `stage-${stage.index}`,
        steps: [],
        cursor: 0,
        baseStage: baseStage !== undefined ? kept.findIndex((s) => s.index === baseStage) : undefined,
      };
      const index = this.#stages.length;
      this.#stages.push(planStage);
      for (const [i, instruction] of stage.instructions.entries()) {
        const fromImage = i === 0 && baseStage === undefined && stage.base.toLowerCase() !== 'scratch';
        const vertex = i === 0 ? fromImage : VERTEX_KEYWORDS.has(instruction.instruction);
        planStage.steps.push(step(index, instruction.instruction, instruction.original, vertex));
      }
    }
  }

  // ---- ProgressPrinter ----

  start(id: number, name: string): void {
    const step = this.#match(name);
    if (!step) return;
    if (step.keyword === 'FROM' && step.state !== 'pending') {
      // an ONBUILD trigger of the base image runs under its FROM
      this.#vertices.set(id, step);
      this.#line(step, `# Executing build trigger: ${name.replace(STEP_VERTEX, '$2')}\n`);
      return;
    }
    this.#vertices.set(id, step);
    step.state = 'started';
    if (step.keyword === 'FROM') {
      const base = /^FROM (\S+)/.exec(name.replace(STEP_VERTEX, '$2'))?.[1];
      const id = base ? this.#imageId(base) : undefined;
      if (id) step.id = shortId(id);
    }
    this.#pump();
  }

  status(): void {}

  log(id: number, _name: string, line: { at: number; text: string }): void {
    const step = this.#vertices.get(id);
    if (step) this.#line(step, `${line.text}\n`);
  }

  end(
    id: number,
    _name: string,
    outcome: { kind: 'done' | 'cached' | 'error'; seconds: number; message?: string },
  ): void {
    const step = this.#vertices.get(id);
    if (!step) return;
    if (step.keyword === 'FROM' && step.state === 'done') return; // a trigger ending
    step.state = outcome.kind === 'error' ? 'error' : 'done';
    if (outcome.kind === 'cached') step.cached = true;
    this.#pump();
  }

  // ---- the end of the build ----

  /** The build succeeded: every step is done; the last one shows the image id. */
  finish(imageId: string): void {
    this.#finished = true;
    const last = this.#steps.at(-1);
    if (last) last.id = shortId(imageId);
    for (const step of this.#steps) if (step.state !== 'error') step.state = 'done';
    this.#pump();
  }

  /** The build failed: the step being printed shows its header and output before the error. */
  fail(): void {
    const step = this.#steps.find((s) => s.state === 'error') ?? this.#steps[this.#next];
    if (!step) return;
    this.#header(step);
    this.#flushLines(step);
  }

  // ---- matching and printing ----

  /** The plan step a vertex reports, or undefined for the builder's own vertices. */
  #match(name: string): PlanStep | undefined {
    const parsed = STEP_VERTEX.exec(name);
    if (!parsed) return undefined;
    const display = parsed[1] ?? '';
    const text = parsed[2]!;
    // by the name the builder gives it; a plan that differs from the builder's still matches by name
    const stage =
      this.#stages.find((s) => s.displayName === display) ??
      (display === ''
        ? this.#stages.at(-1)
        : this.#stages.find((s) => (s.description.name || `stage-${s.description.index}`) === display));
    if (!stage) return undefined;
    const keyword = /^\S+/.exec(text)?.[0]?.toUpperCase() ?? '';
    if (keyword === 'ONBUILD' || keyword === 'FROM') return stage.steps[0];
    for (let i = stage.cursor; i < stage.steps.length; i++) {
      const candidate = stage.steps[i]!;
      if (!candidate.vertex || candidate.keyword !== keyword) continue;
      // everything before it in the stage is done: the builder runs a stage's steps in order
      for (let j = 0; j < i; j++) {
        const before = stage.steps[j]!;
        if (before.state === 'pending' || before.state === 'started') before.state = 'done';
      }
      stage.cursor = i + 1;
      return candidate;
    }
    return undefined;
  }

  #line(step: PlanStep, text: string): void {
    step.lines.push(text);
    this.#pump();
  }

  #header(step: PlanStep): void {
    if (step.headerPrinted) return;
    step.headerPrinted = true;
    this.#write(`Step ${step.number}/${this.#steps.length} : ${step.original}\n`);
  }

  #flushLines(step: PlanStep): void {
    if (step.lines.length === 0) return;
    this.#write(step.lines.join(''));
    step.lines.length = 0;
  }

  /** A config-only step is done once the steps before it in its stage are. */
  #settle(step: PlanStep): void {
    if (step.state !== 'pending' || step.vertex) return;
    if (step.stage === undefined) {
      step.state = 'done';
      return;
    }
    const stage = this.#stages[step.stage]!;
    const index = stage.steps.indexOf(step);
    if (index === 0) {
      // FROM an earlier stage or scratch: begun once any later step of the stage has
      if (stage.steps.some((s) => s.state !== 'pending' && s !== step)) step.state = 'done';
      return;
    }
    if (stage.steps[index - 1]!.state === 'done') step.state = 'done';
  }

  #stepId(step: PlanStep): string {
    if (step.id) return step.id;
    const stage = step.stage === undefined ? undefined : this.#stages[step.stage];
    const index = stage ? stage.steps.indexOf(step) : -1;
    let previous = '';
    if (stage && index > 0) previous = stage.steps[index - 1]!.id ?? '';
    else if (stage && index === 0 && stage.baseStage !== undefined) {
      previous = this.#stages[stage.baseStage]?.steps.at(-1)?.id ?? '';
      if (previous) {
        step.id = previous;
        return previous;
      }
    }
    step.id = createHash('sha256').update(`${previous}\n${step.original}`).digest('hex').slice(0, 12);
    return step.id;
  }

  #pump(): void {
    while (this.#next < this.#steps.length) {
      const step = this.#steps[this.#next]!;
      this.#settle(step);
      if (step.state === 'pending') return;
      this.#header(step);
      this.#flushLines(step);
      if (step.state !== 'done') return;
      if (step.stage === undefined) {
        // a global ARG: no image of its own
        this.#next++;
        continue;
      }
      const last = this.#next === this.#steps.length - 1;
      if (last && !this.#finished) return; // the image id is known only at the end
      if (step.cached) this.#write(' ---> Using cache\n');
      this.#write(` ---> ${this.#stepId(step)}\n`);
      this.#next++;
    }
  }
}
