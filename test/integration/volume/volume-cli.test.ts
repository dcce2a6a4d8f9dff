/**
 * Volumes through the real `wharf` binary: the `volume` verbs with Docker's output, and volumes
 * in containers (data that outlives its container, seeding from the image once, read-only
 * mounts, tmpfs content gone after a restart, volumes in use, anonymous volumes going with
 * `rm -v` and `--rm`), through the container service's volume hooks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  importBusyboxImage,
  makeContainerFixture,
} from '../container/helpers.ts';

const skip = await containerTestsSkipReason();

describe('volume verbs and volumes in containers', { skip }, () => {
  let fx: ContainerFixture;

  before(async () => {
    fx = await makeContainerFixture();
    await importBusyboxImage(fx, 'seeded', ['VOLUME /anon', 'CMD ["sh"]'], {
      '/data/seed.txt': 'from the image\n',
      '/anon/a.txt': 'anonymous seed\n',
    });
  });

  after(async () => {
    await fx?.cleanup();
  });

  it('creates, lists, inspects and removes volumes with Docker output', async () => {
    assert.equal(await fx.ok(['volume', 'create', '--label', 'team=a', 'alpha']), 'alpha');
    assert.equal(
      await fx.ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'beta']),
      'beta',
    );
    assert.equal(await fx.ok(['volume', 'ls']), 'DRIVER    VOLUME NAME\nlocal     alpha\nlocal     beta');
    assert.equal(await fx.ok(['volume', 'ls', '-q', '--filter', 'label=team=a']), 'alpha');
    assert.equal(
      await fx.ok(['volume', 'ls', '--format', '{{.Name}} {{.Label "team"}} {{.Scope}}']),
      'alpha a local\nbeta  local',
    );
    const [inspected] = JSON.parse(await fx.ok(['volume', 'inspect', 'beta'])) as Record<string, unknown>[];
    assert.deepEqual(Object.keys(inspected!), [
      'CreatedAt',
      'Driver',
      'Labels',
      'Mountpoint',
      'Name',
      'Options',
      'Scope',
    ]);
    assert.deepEqual(inspected!.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    assert.equal(inspected!.Mountpoint, `${fx.root}/volumes/beta/_data`);
    assert.equal(await fx.ok(['volume', 'inspect', '-f', '{{.Driver}}', 'alpha']), 'local');
    const bad = await fx.wharf(['volume', 'create', '-o', 'nope=1', 'gamma']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid option: "nope"/);
    const missing = await fx.wharf(['volume', 'rm', 'alpha', 'missing']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, 'alpha\n');
    assert.match(missing.stderr, /Error response from daemon: get missing: no such volume/);
    assert.equal((await fx.wharf(['volume', 'rm', '-f', 'missing'])).code, 0);
    assert.equal(await fx.ok(['volume', 'prune', '-f']), 'Total reclaimed space: 0B');
    assert.equal(
      await fx.ok(['volume', 'prune', '-a', '-f']),
      'Deleted Volumes:\nbeta\n\nTotal reclaimed space: 0B',
    );
  });

  it('prints N/A cluster fields in ls json and sorted maps in inspect, as Docker does', async () => {
    assert.equal(
      await fx.ok([
        'volume',
        'create',
        '--label',
        'z=1',
        '--label',
        'a=2',
        '-o',
        'type=tmpfs',
        '-o',
        'device=tmpfs',
        'sorted',
      ]),
      'sorted',
    );
    try {
      const row = JSON.parse(
        await fx.ok(['volume', 'ls', '--filter', 'name=sorted', '--format', 'json']),
      ) as Record<string, string>;
      assert.deepEqual([row.Group, row.Availability, row.Status], ['N/A', 'N/A', 'N/A']);
      assert.equal(
        await fx.ok(['volume', 'inspect', '-f', '{{json .Labels}} {{json .Options}}', 'sorted']),
        '{"a":"2","z":"1"} {"device":"tmpfs","type":"tmpfs"}',
      );
    } finally {
      await fx.ok(['volume', 'rm', 'sorted']);
    }
  });

  it('keeps a named volume across containers and seeds it from the image once', async () => {
    await fx.ok([
      'run',
      '--name',
      'first',
      '-v',
      'keep:/data',
      'seeded',
      'sh',
      '-c',
      'cat /data/seed.txt; rm /data/seed.txt; echo mine > /data/mine.txt',
    ]);
    assert.equal(await fx.ok(['logs', 'first']), 'from the image');
    await fx.ok(['rm', 'first']);
    // The volume outlived its container, and is not seeded again.
    assert.equal(await fx.ok(['run', '--rm', '-v', 'keep:/data', 'seeded', 'ls', '/data']), 'mine.txt');
    const mounts = JSON.parse(
      await fx.ok([
        'inspect',
        '-f',
        '{{json .Mounts}}',
        await fx.ok(['create', '-v', 'keep:/data', 'seeded']),
      ]),
    ) as Record<string, unknown>[];
    // The image's VOLUME /anon is an anonymous volume beside it.
    assert.deepEqual(
      mounts.map((mount) => [
        mount.Destination,
        mount.Name === 'keep' ? 'keep' : /^[0-9a-f]{64}$/.test(String(mount.Name)),
      ]),
      [
        ['/anon', true],
        ['/data', 'keep'],
      ],
    );
    assert.deepEqual(mounts[1], {
      Type: 'volume',
      Name: 'keep',
      Source: `${fx.root}/volumes/keep/_data`,
      Destination: '/data',
      Driver: 'local',
      Mode: 'z',
      RW: true,
      Propagation: '',
    });
  });

  it('refuses writes to read-only mounts', async () => {
    const result = await fx.wharf([
      'run',
      '--rm',
      '-v',
      'rovol:/data:ro',
      'busybox',
      'sh',
      '-c',
      'echo x > /data/f',
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr + result.stdout, /Read-only file system/);
    const bind = await fx.wharf([
      'run',
      '--rm',
      '--mount',
      `type=bind,src=${fx.root},dst=/host,readonly`,
      'busybox',
      'touch',
      '/host/x',
    ]);
    assert.notEqual(bind.code, 0);
  });

  it('loses tmpfs content when the container restarts', async () => {
    const id = await fx.ok([
      'run',
      '-d',
      '--tmpfs',
      '/scratch:size=1m',
      'busybox',
      'sh',
      '-c',
      'echo x > /scratch/f; sleep 60',
    ]);
    for (let i = 0; i < 50 && (await fx.wharf(['exec', id, 'test', '-e', '/scratch/f'])).code !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await fx.ok(['restart', '-t', '0', id]);
    await fx.ok(['exec', id, 'sh', '-c', 'sleep 0.2']);
    assert.equal(
      (await fx.wharf(['exec', id, 'test', '-e', '/scratch/f'])).code,
      0,
      'the new run wrote it again',
    );
    await fx.ok(['exec', id, 'rm', '/scratch/f']);
    await fx.ok(['stop', '-t', '0', id]);
    await fx.ok(['start', id]);
    const { stdout } = await fx.wharf(['exec', id, 'cat', '/proc/mounts']);
    assert.match(stdout, / \/scratch tmpfs /);
    await fx.ok(['rm', '-f', id]);
  });

  it('refuses to remove a volume in use, and removes anonymous volumes with rm -v and --rm', async () => {
    const anonymous = () => fx.ok(['volume', 'ls', '-q', '--filter', 'label=com.docker.volume.anonymous']);
    const before = (await anonymous()).split('\n').filter(Boolean).length;
    const id = await fx.ok(['create', '-v', 'busy:/data', 'seeded']);
    assert.equal(
      (await anonymous()).split('\n').filter(Boolean).length,
      before + 1,
      'the image VOLUME made one',
    );
    const refused = await fx.wharf(['volume', 'rm', 'busy']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`remove busy: volume is in use - \\[${id}\\]`));
    await fx.ok(['rm', '-v', id]);
    assert.equal(
      (await anonymous()).split('\n').filter(Boolean).length,
      before,
      'the image VOLUME of the removed container went with it',
    );
    await fx.ok(['volume', 'rm', 'busy']);
    assert.equal(await fx.ok(['run', '--rm', 'seeded', 'cat', '/anon/a.txt']), 'anonymous seed');
    assert.equal(
      (await anonymous()).split('\n').filter(Boolean).length,
      before,
      '--rm removed the anonymous volume',
    );
  });
});
