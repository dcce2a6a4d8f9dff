import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScanQueue } from '../../../src/registry/scan/scan-queue.ts';

describe('ScanQueue', () => {
  it('runs jobs one at a time in order, never on the caller’s stack, and a key once while pending', async () => {
    const queue = new ScanQueue();
    const log: string[] = [];
    let running = 0;
    const job = (name: string) => async () => {
      running++;
      assert.equal(running, 1, 'one at a time');
      log.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.push(`end ${name}`);
      running--;
    };
    assert.equal(queue.enqueue('a', job('a')), true);
    assert.equal(queue.enqueue('b', job('b')), true);
    assert.equal(queue.enqueue('a', job('a again')), false, 'a is queued already');
    assert.deepEqual(log, [], 'nothing runs before the caller returns');
    assert.deepEqual(queue.state('a'), { status: 'queued' });
    await queue.idle();
    assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b']);
    assert.equal(queue.state('a'), undefined, 'success is forgotten');
  });

  it('remembers a failure until the key succeeds, and tells onError', async () => {
    const errors: string[] = [];
    const queue = new ScanQueue({
      onError: (key, error) => errors.push(`${key}: ${(error as Error).message}`),
    });
    queue.enqueue('a', async () => {
      throw new Error('Cannot scan: boom');
    });
    await queue.idle();
    const state = queue.state('a');
    assert.equal(state?.status, 'failed');
    assert.equal(state?.status === 'failed' && state.error, 'Cannot scan: boom');
    assert.deepEqual(errors, ['a: Cannot scan: boom']);
    assert.equal(
      queue.enqueue('a', async () => {}),
      true,
      'a failed key may be queued again',
    );
    await queue.idle();
    assert.equal(queue.state('a'), undefined);
  });

  it('on close drops what waits and aborts the running job', async () => {
    const queue = new ScanQueue();
    let aborted = false;
    let ranB = false;
    queue.enqueue('a', async (signal) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted = signal.aborted;
    });
    queue.enqueue('b', async () => {
      ranB = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(queue.state('a'), { status: 'running' });
    await queue.close();
    assert.equal(aborted, true);
    assert.equal(ranB, false);
    assert.equal(
      queue.enqueue('c', async () => {}),
      false,
      'closed',
    );
  });
});
