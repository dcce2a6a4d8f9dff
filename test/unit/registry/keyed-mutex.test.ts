import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex } from '../../../src/registry/keyed-mutex.ts';

describe('KeyedMutex', () => {
  it('serializes runs of one key, not of different keys, and survives failures', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const job = (key: string, name: string, ms: number, fail = false) =>
      mutex.run(key, async () => {
        events.push(`start ${name}`);
        await sleep(ms);
        events.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([
      job('a', 'a1', 20, true),
      job('a', 'a2', 1),
      job('b', 'b1', 5),
    ]);
    assert.deepEqual(events, ['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
    assert.equal(results[0].status, 'rejected');
    assert.equal(results[1].status, 'fulfilled');
    assert.equal(mutex.isHeld('a'), false);
  });
});
