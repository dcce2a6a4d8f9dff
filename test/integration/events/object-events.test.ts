/**
 * `wharf events` for networks, volumes and images, as dockerd emits them: a network's create,
 * connect (at a container's start), disconnect (at its exit) and destroy; a volume's create,
 * mount, unmount and destroy; an image's tag, untag, delete, save and load. Read back through the real binary
 * with `--since/--until` and `--filter type=…`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  importBusyboxImage,
  makeContainerFixture,
} from '../container/helpers.ts';

const skip = await containerTestsSkipReason();

interface Event {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

describe('network, volume and image events', { skip }, () => {
  let fx: ContainerFixture;

  before(async () => {
    fx = await makeContainerFixture();
    await importBusyboxImage(fx, 'evimg', ['CMD ["sh"]'], {});
  });

  after(async () => {
    await fx?.cleanup();
  });

  it('records save and load with the image id as actor and name', async () => {
    const since = String(Date.now() / 1000);
    const imageId = await fx.ok(['image', 'inspect', '-f', '{{.Id}}', 'evimg']);
    const dir = await mkdtemp(join(tmpdir(), 'wharf-events-'));
    try {
      await fx.ok(['save', '-o', join(dir, 'evimg.tar'), 'evimg']);
      await fx.ok(['load', '-i', join(dir, 'evimg.tar')]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const text = await fx.ok([
      'events',
      '--since',
      since,
      '--until',
      String(Date.now() / 1000 + 1),
      '--filter',
      'type=image',
      '--format',
      '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}',
    ]);
    assert.equal(text, `save ${imageId} ${imageId}\nload ${imageId} ${imageId}`);
  });

  it('records them with Docker actions, actors and attributes, filtered by type and event', async () => {
    const since = String(Date.now() / 1000);
    const imageId = await fx.ok(['image', 'inspect', '-f', '{{.Id}}', 'evimg']);
    const networkId = await fx.ok(['network', 'create', 'evnet']);
    assert.equal(await fx.ok(['volume', 'create', 'evvol']), 'evvol');
    const container = await fx.ok(['run', '-d', '--network', 'evnet', '-v', 'evvol:/data', 'evimg', 'true']);
    await fx.ok(['wait', container]);
    await fx.ok(['rm', container]);
    await fx.ok(['network', 'rm', 'evnet']);
    await fx.ok(['volume', 'rm', 'evvol']);
    await fx.ok(['tag', 'evimg', 'evimg:two']);
    await fx.ok(['rmi', 'evimg:two']);
    await fx.ok(['rmi', 'evimg']);
    const until = String(Date.now() / 1000 + 1);
    const read = async (...filters: string[]): Promise<Event[]> => {
      const text = await fx.ok([
        'events',
        '--since',
        since,
        '--until',
        until,
        ...filters.flatMap((f) => ['--filter', f]),
        '--format',
        '{{json .}}',
      ]);
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Event);
    };

    const networks = await read('type=network');
    assert.deepEqual(
      networks.map((e) => [e.Type, e.Action, e.Actor.ID]),
      [
        ['network', 'create', networkId],
        ['network', 'connect', networkId],
        ['network', 'disconnect', networkId],
        ['network', 'destroy', networkId],
      ],
    );
    assert.deepEqual(networks[0]!.Actor.Attributes, { name: 'evnet', type: 'bridge' });
    assert.deepEqual(networks[1]!.Actor.Attributes, { container, name: 'evnet', type: 'bridge' });

    const volumes = await read('type=volume');
    assert.deepEqual(
      volumes.map((e) => [e.Action, e.Actor.ID]),
      [
        ['create', 'evvol'],
        ['mount', 'evvol'],
        ['unmount', 'evvol'],
        ['destroy', 'evvol'],
      ],
    );
    assert.deepEqual(volumes[0]!.Actor.Attributes, { driver: 'local' });
    assert.equal(volumes[1]!.Actor.Attributes.container, container);
    assert.equal(volumes[1]!.Actor.Attributes.destination, '/data');
    assert.equal(volumes[1]!.Actor.Attributes['read/write'], 'true');
    assert.deepEqual(volumes[2]!.Actor.Attributes, { container, driver: 'local' });

    const images = await read('type=image');
    assert.deepEqual(
      images.map((e) => [e.Action, e.Actor.ID, e.Actor.Attributes.name]),
      [
        ['tag', imageId, 'evimg:two'],
        ['untag', imageId, imageId],
        ['untag', imageId, imageId],
        ['delete', imageId, imageId],
      ],
    );

    const mounts = await read('event=mount');
    assert.deepEqual(
      mounts.map((e) => [e.Type, e.Action]),
      [['volume', 'mount']],
    );
    // the container's own events are still there, in the same log
    const containers = await read('type=container', 'event=destroy');
    assert.deepEqual(
      containers.map((e) => e.Actor.ID),
      [container],
    );
  });
});
