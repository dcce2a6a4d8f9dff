/**
 * `wharf system prune` as `docker system prune`: Docker's warning listing what the flags remove
 * (declining removes nothing), then stopped containers, unused networks, with `--volumes`
 * anonymous volumes only, dangling images (all unused ones with `-a`), each kind listed as its
 * own prune lists it, one total; a running container, its image, a named volume and the
 * built-in networks stay.
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

describe('system prune', { skip }, () => {
  let fx: ContainerFixture;

  before(async () => {
    fx = await makeContainerFixture();
    await importBusyboxImage(fx, 'keepbox', ['CMD ["sh"]'], {});
    await importBusyboxImage(fx, 'spare', ['CMD ["sh"]'], { '/spare': 'x' });
  });

  after(async () => {
    await fx?.ok(['rm', '-f', 'sp-running']).catch(() => undefined);
    await fx?.cleanup();
  });

  it('asks first, then removes what is unused, kind by kind', async () => {
    await fx.ok(['run', '-d', '--name', 'sp-running', 'keepbox', 'sleep', '600']);
    await fx.ok(['run', '--name', 'sp-stopped', 'keepbox', 'true']);
    await fx.ok(['run', '--name', 'sp-anon', '-v', '/data', 'keepbox', 'true']);
    await fx.ok(['volume', 'create', 'sp-named']);
    await fx.ok(['network', 'create', 'sp-net']);
    const anonymous = (await fx.ok(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', 'sp-anon'])).trim();
    assert.match(anonymous, /^[0-9a-f]{64}$/);

    const declined = await fx.wharf(['system', 'prune', '--volumes'], { input: 'n\n' });
    assert.equal(declined.code, 0);
    assert.equal(
      declined.stdout,
      'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n' +
        '  - all anonymous volumes not used by at least one container\n  - all dangling images\n' +
        '  - unused build cache\n\nAre you sure you want to continue? [y/N] ',
    );
    assert.match(await fx.ok(['ps', '-a', '--format', '{{.Names}}']), /sp-stopped/, 'nothing removed');

    const pruned = await fx.ok(['system', 'prune', '-f', '--volumes']);
    const sections = pruned.split('\n\n');
    assert.match(sections[0]!, /^Deleted Containers:\n[0-9a-f]{64}\n[0-9a-f]{64}$/);
    assert.equal(sections[1], 'Deleted Networks:\nsp-net');
    assert.equal(sections[2], `Deleted Volumes:\n${anonymous}`);
    assert.match(sections.at(-1)!, /^Total reclaimed space: \S+B$/);
    assert.equal(await fx.ok(['ps', '-a', '--format', '{{.Names}}']), 'sp-running');
    assert.equal(await fx.ok(['volume', 'ls', '-q']), 'sp-named');
    assert.deepEqual((await fx.ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n').sort(), [
      'bridge',
      'host',
      'none',
    ]);
    // no dangling image: every tagged image stays without -a (the fixture's busybox too)
    assert.deepEqual((await fx.ok(['images', '--format', '{{.Repository}}'])).split('\n').sort(), [
      'busybox',
      'keepbox',
      'spare',
    ]);

    const all = await fx.ok(['system', 'prune', '-af']);
    assert.match(all, /^Deleted Images:\n/);
    assert.match(all, /\nuntagged: spare:latest\ndeleted: sha256:[0-9a-f]{64}\n/);
    assert.match(all, /\nuntagged: busybox:latest\n/);
    assert.equal(await fx.ok(['images', '--format', '{{.Repository}}']), 'keepbox', 'in use: kept');

    const refused = await fx.wharf(['system', 'prune', '-f', '--filter', 'bogus=1']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /invalid filter 'bogus'/);
  });
});
