import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CONTAINER_STATES,
  type ContainerEvent,
  canTransition,
  isActive,
  TRANSITIONS,
  transition,
} from '../../../src/container/container-state.ts';

const EVENTS: ContainerEvent[] = ['start', 'pause', 'unpause', 'die', 'schedule-restart', 'remove', 'fail'];

describe('container state machine', () => {
  it('follows Docker lifecycle paths', () => {
    let state = transition('created', 'start');
    assert.equal(state, 'running');
    state = transition(state, 'pause');
    assert.equal(state, 'paused');
    state = transition(state, 'unpause');
    state = transition(state, 'schedule-restart');
    assert.equal(state, 'restarting');
    state = transition(state, 'start');
    state = transition(state, 'die');
    assert.equal(state, 'exited');
    state = transition(state, 'remove');
    assert.equal(state, 'removing');
    assert.equal(transition(state, 'fail'), 'dead');
    assert.equal(transition('dead', 'remove'), 'removing');
  });

  it('refuses what a state does not accept, in Docker words', () => {
    assert.throws(() => transition('exited', 'pause', 'web'), {
      name: 'ConflictError',
      message: 'Container web is not running',
    });
    assert.throws(() => transition('paused', 'pause', 'web'), { message: 'Container web is already paused' });
    assert.throws(() => transition('running', 'unpause', 'web'), { message: 'Container web is not paused' });
    assert.throws(() => transition('paused', 'start', 'web'), { message: /try unpause instead/ });
    assert.throws(() => transition('running', 'remove', 'web'), {
      message:
        'cannot remove container "web": container is running: stop the container before removing or force remove',
    });
    assert.throws(() => transition('removing', 'remove', 'web'), { message: /already in progress/ });
  });

  it('has one entry per state and agrees with canTransition', () => {
    assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...CONTAINER_STATES].sort());
    for (const state of CONTAINER_STATES) {
      for (const event of EVENTS) {
        const allowed = canTransition(state, event);
        if (allowed) assert.ok(CONTAINER_STATES.includes(transition(state, event)));
        else assert.throws(() => transition(state, event));
      }
    }
    assert.deepEqual(
      CONTAINER_STATES.filter((state) => isActive(state)),
      ['running', 'paused', 'restarting'],
    );
  });
});
