/**
 * dockerode (unversioned paths, its own stream handling) against `wharf system service`:
 * ping, version, info, list, inspect, history, tag, remove, save and load as streams, and the
 * status code of a service not wired yet.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

let daemon: WharfDaemon | undefined;
let docker: Docker;

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

describe('dockerode against wharf system service: images', { skip: baseImagesMissing() }, () => {
  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
    docker = new Docker({ socketPath: daemon.socket });
  });

  after(async () => {
    await daemon?.stop();
  });

  it('pings and reads version and info', async () => {
    assert.equal(String(await docker.ping()), 'OK');
    const version = await docker.version();
    assert.equal(version.ApiVersion, '1.41');
    const info = await docker.info();
    assert.equal(info.DockerRootDir, daemon!.root);
  });

  it('lists, inspects, tags, shows history and removes', async () => {
    const images = await docker.listImages({ filters: { reference: ['busybox'] } });
    assert.deepEqual(
      images.map((image) => image.RepoTags),
      [['busybox:latest']],
    );
    const inspect = await docker.getImage('busybox').inspect();
    assert.equal(inspect.Id, images[0]!.Id);
    await docker.getImage('busybox').tag({ repo: 'registry.test:5000/a/b', tag: 'c' });
    const tagged = await docker.getImage('registry.test:5000/a/b:c').inspect();
    assert.equal(tagged.Id, inspect.Id);
    const history = await docker.getImage(inspect.Id).history();
    assert.equal(history[0].Id, inspect.Id);
    assert.deepEqual(await docker.getImage('registry.test:5000/a/b:c').remove(), [
      { Untagged: 'registry.test:5000/a/b:c' },
    ]);
  });

  it('saves and loads through streams', async () => {
    const archive = await collect(await docker.getImage('busybox').get());
    assert.ok(archive.length > 1024 * 1024);
    const response = (await docker.loadImage(Readable.from([archive]))) as unknown as NodeJS.ReadableStream;
    const output = (await collect(response)).toString();
    assert.match(output, /"stream":"Loaded image: busybox:latest\\n"/);
  });

  it('lists containers once the container service is wired', async () => {
    const containers = await docker.listContainers({ all: true });
    assert.ok(Array.isArray(containers));
  });
});
