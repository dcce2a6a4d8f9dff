/**
 * `wharf system df` counts what the services hold, as `docker system df` does: containers with
 * their writable layers, local volumes with the containers that mount them and their bytes, and
 * with `-v` a table per kind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  importBusyboxImage,
  makeContainerFixture,
} from './helpers.ts';

const skip = await containerTestsSkipReason();

describe('system df', { skip }, () => {
  let fx: ContainerFixture;

  before(async () => {
    fx = await makeContainerFixture();
    await importBusyboxImage(fx, 'dfbox', ['CMD ["sh"]'], {});
  });

  after(async () => {
    await fx?.cleanup();
  });

  it('counts containers, their writable layers and the volumes they mount', async () => {
    await fx.ok(['volume', 'create', 'df-data']);
    await fx.ok(['volume', 'create', 'df-unused']);
    // 200 KiB in the writable layer, 5 bytes in the volume, then it keeps running
    const script =
      'dd if=/dev/zero of=/layer.bin bs=1k count=200 2>/dev/null; echo data > /v/f; touch /ready; sleep 600';
    await fx.ok(['run', '-d', '--name', 'df-running', '-v', 'df-data:/v', 'dfbox', 'sh', '-c', script]);
    await fx.ok(['run', '--name', 'df-exited', 'dfbox', 'true']);
    for (let i = 0; i < 100; i++) {
      if ((await fx.wharf(['exec', 'df-running', 'test', '-e', '/ready'])).code === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const rows = (await fx.ok(['system', 'df', '--format', 'json']))
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    const byType = new Map(rows.map((row) => [row.Type, row]));
    assert.deepEqual([byType.get('Containers')?.TotalCount, byType.get('Containers')?.Active], ['2', '1']);
    assert.match(byType.get('Containers')!.Size!, /^2\d\d(\.\d+)?kB$/, 'the 200 KiB written');
    assert.deepEqual(
      [byType.get('Local Volumes')?.TotalCount, byType.get('Local Volumes')?.Active],
      ['2', '1'],
    );
    assert.equal(byType.get('Local Volumes')?.Size, '5B');
    assert.equal(byType.get('Local Volumes')?.Reclaimable, '0B (0%)', 'the unused volume is empty');

    const verbose = await fx.ok(['system', 'df', '-v']);
    assert.match(verbose, /\n\w{12} +dfbox +"sh -c 'dd if=\/dev\/z…" +1 +2\d\d(\.\d+)?kB .* df-running\n/);
    assert.match(verbose, /\n\w{12} +dfbox +"true" +0 +\S+ .* Exited \(0\) .* df-exited\n/);
    assert.match(verbose, /\nVOLUME NAME +LINKS +SIZE\ndf-data +1 +5B\ndf-unused +0 +0B\n/);
    await fx.ok(['rm', '-f', 'df-running', 'df-exited']);
  });
});
