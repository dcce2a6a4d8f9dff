/**
 * The container state machine: every change of a container's status goes through one table, as
 * runc's `libcontainer/state_linux.go` does it. Docker's statuses are the states; the events are
 * what Wharf does or sees:
 *
 *   created    --start-->  running      (conmon created it, the runtime started its process)
 *   running    --pause-->  paused       --unpause--> running
 *   running    --die-->    exited       (conmon's exit file, or reconciled as killed)
 *   running    --schedule-restart--> restarting --start--> running   (a restart policy)
 *   restarting --die-->    exited       (stopped while waiting to restart)
 *   exited     --start-->  running
 *   created, exited, dead --remove--> removing --(row deleted)  or  --fail--> dead
 *
 * `transition(state, event)` gives the next state or throws ConflictError with Docker's words.
 * Callers apply it inside a write transaction that first re-reads the state, so two processes
 * never both win a transition.
 *
 * @example
 * transition('running', 'pause'); // 'paused'
 * transition('exited', 'pause');  // throws ConflictError: Container ... is not running
 */
import { ConflictError } from '../errors/index.ts';

export const CONTAINER_STATES = [
  'created',
  'running',
  'paused',
  'restarting',
  'exited',
  'dead',
  'removing',
] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

export type ContainerEvent =
  /** conmon created the container and the runtime started its process. */
  | 'start'
  | 'pause'
  | 'unpause'
  /** The process ended (seen through conmon's exit file, or reconciled). */
  | 'die'
  /** The process ended and a restart policy will start it again. */
  | 'schedule-restart'
  | 'remove'
  /** Removal failed half way: the container is left dead. */
  | 'fail';

/** The one table: for each state, the events it accepts and where they lead. */
export const TRANSITIONS: Readonly<Record<ContainerState, Partial<Record<ContainerEvent, ContainerState>>>> =
  {
    created: { start: 'running', remove: 'removing', die: 'exited' },
    running: { pause: 'paused', die: 'exited', 'schedule-restart': 'restarting' },
    paused: { unpause: 'running', die: 'exited', 'schedule-restart': 'restarting' },
    restarting: { start: 'running', die: 'exited' },
    exited: { start: 'running', remove: 'removing' },
    dead: { remove: 'removing' },
    removing: { fail: 'dead' },
  };

/** Docker's refusal for an event in a state that does not accept it. */
function refusal(state: ContainerState, event: ContainerEvent, name: string): string {
  switch (event) {
    case 'pause':
      return state === 'paused' ? `Container ${name} is already paused` : `Container ${name} is not running`;
    case 'unpause':
      return `Container ${name} is not paused`;
    case 'start':
      if (state === 'running') return `Container ${name} is already running`;
      if (state === 'paused') return `Cannot start a paused container, try unpause instead`;
      if (state === 'removing') return `Container ${name} is marked for removal and cannot be started`;
      if (state === 'dead') return `Container ${name} is marked for removal and cannot be started`;
      return `Container ${name} cannot be started while it is ${state}`;
    case 'remove':
      if (state === 'removing') return `removal of container ${name} is already in progress`;
      if (state === 'running' || state === 'restarting' || state === 'paused') {
        const what = state === 'paused' ? 'paused' : state === 'restarting' ? 'restarting' : 'running';
        return `cannot remove container "${name}": container is ${what}: stop the container before removing or force remove`;
      }
      return `Cannot remove container ${name} while it is ${state}`;
    default:
      return `Cannot ${event} container ${name}: it is ${state}`;
  }
}

/** True when `state` accepts `event`. */
export function canTransition(state: ContainerState, event: ContainerEvent): boolean {
  return TRANSITIONS[state][event] !== undefined;
}

/**
 * The state after `event`; ConflictError (Docker's message) when `state` does not accept it.
 * `name` only words the error.
 */
export function transition(state: ContainerState, event: ContainerEvent, name = 'container'): ContainerState {
  const next = TRANSITIONS[state][event];
  if (next === undefined) throw new ConflictError(refusal(state, event, name));
  return next;
}

/** States in which the container has (or is about to have again) a process: Docker's `State.Running`. */
export function isActive(state: ContainerState): boolean {
  return state === 'running' || state === 'paused' || state === 'restarting';
}
