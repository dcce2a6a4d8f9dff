import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { type LocalEngine, openLocalEngine } from '../../../src/engine/local-engine.ts';
import { digestBytes } from '../../../src/oci/digest.ts';

/** A tar holding `files` (path -> content), as a Buffer. */
async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Records an image of the given layers directly through the store (for shared bases, parents). */
async function makeImage(
  engine: LocalEngine,
  layers: Buffer[],
  options: {
    tags?: string[];
    parent?: string;
    created?: string;
    labels?: Record<string, string>;
    config?: Record<string, unknown>;
  } = {},
) {
  const store = engine.images.store;
  return store.leases.withLease(async (lease) => {
    const stored = [];
    for (const layer of layers) stored.push(await store.content.writeBlob(layer, { lease: lease.id }));
    const config = {
      architecture: 'amd64',
      os: 'linux',
      created: options.created ?? new Date().toISOString(),
      config: { Labels: options.labels ?? {}, ...options.config },
      rootfs: { type: 'layers', diff_ids: stored.map((s) => s.digest) },
      history: stored.map((_, i) => ({ created_by: `layer ${i}` })),
    };
    const result = await store.createImage({
      config: Buffer.from(JSON.stringify(config)),
      layers: stored,
      lease: lease.id,
      ...(options.tags ? { tags: options.tags } : {}),
      ...(options.parent ? { parent: options.parent } : {}),
    });
    return result.image;
  });
}

async function blobNames(root: string): Promise<Set<string>> {
  return new Set(await readdir(join(root, 'content/blobs/sha256')));
}

describe('image store', () => {
  let root: string;
  let engine: LocalEngine;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-images-'));
    engine = await openLocalEngine({ root });
  });
  after(async () => {
    engine?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('imports a tarball into a one-layer image with Docker-shaped inspect and history', async () => {
    const layer = await tarOf({ 'hello.txt': 'hello' });
    const image = await engine.images.import({
      source: Readable.from([layer]),
      reference: 'test:1',
      changes: ['ENV A=b', 'CMD ["sh"]', 'LABEL x=y'],
    });
    assert.equal(image.id, engine.images.resolve('test:1').id);
    const inspect = await engine.images.inspect('test:1');
    assert.equal(inspect.Id, image.id);
    assert.deepEqual(inspect.RepoTags, ['test:1']);
    assert.deepEqual(inspect.RepoDigests, []);
    assert.deepEqual(inspect.RootFS, { Type: 'layers', Layers: [digestBytes(layer)] });
    assert.deepEqual(inspect.Config.Env, ['A=b']);
    assert.deepEqual(inspect.Config.Cmd, ['sh']);
    assert.deepEqual(inspect.Config.Labels, { x: 'y' });
    assert.equal(inspect.Comment, 'Imported from -');
    assert.equal(inspect.Size, layer.length);
    assert.equal(inspect.Os, 'linux');
    assert.match(inspect.Created, /^\d{4}-\d\d-\d\dT/);
    assert.notEqual(inspect.Metadata.LastTagTime, '0001-01-01T00:00:00Z');
    assert.equal(inspect.Parent, '');
    const history = await engine.images.history('test:1');
    assert.equal(history.length, 1);
    assert.deepEqual(
      { Id: history[0]!.Id, Tags: history[0]!.Tags, Size: history[0]!.Size, Comment: history[0]!.Comment },
      { Id: image.id, Tags: ['test:1'], Size: layer.length, Comment: 'Imported from -' },
    );
    // gzip input is accepted too, and the layer is stored uncompressed
    const { gzipSync } = await import('node:zlib');
    const gz = await engine.images.import({ source: Readable.from([gzipSync(layer)]), message: 'from gzip' });
    assert.deepEqual((await engine.images.inspect(gz.id)).RootFS.Layers, [digestBytes(layer)]);
    assert.deepEqual(await engine.images.remove(gz.id), [{ Deleted: gz.id }]);
    await assert.rejects(
      engine.images.import({ source: Readable.from([Buffer.from('not a tar at all'.repeat(64))]) }),
      /not a tar archive/,
    );
  });

  it('finds images by name, full id, bare hex and unique prefix, as Docker does', async () => {
    const image = engine.images.resolve('test:1');
    const hex = image.id.slice('sha256:'.length);
    for (const name of [
      'test:1',
      'docker.io/library/test:1',
      'library/test:1',
      image.id,
      hex,
      hex.slice(0, 12),
      `sha256:${hex.slice(0, 8)}`,
    ]) {
      assert.equal(engine.images.resolve(name).id, image.id, name);
    }
    assert.throws(() => engine.images.resolve('nope'), {
      name: 'NotFoundError',
      message: 'No such image: nope:latest',
    });
    assert.throws(() => engine.images.resolve('Bad:Name'), /must be lowercase/);
    // 17 images: two of them must share a first hex digit
    for (let i = 0; i < 17; i++)
      await makeImage(engine, [await tarOf({ [`f${i}`]: String(i) })], { tags: [`many:${i}`] });
    const firsts = new Map<string, number>();
    for (const summary of await engine.images.list()) {
      const c = summary.Id.charAt(7);
      firsts.set(c, (firsts.get(c) ?? 0) + 1);
    }
    const shared = [...firsts].find(([, n]) => n > 1)![0];
    assert.throws(() => engine.images.resolve(shared), /ambiguous/);
    for (let i = 0; i < 17; i++) await engine.images.remove(`many:${i}`);
  });

  it('tags, untags and removes with Docker conflict rules', async () => {
    const image = await makeImage(engine, [await tarOf({ a: 'a' })], { tags: ['a:1'] });
    assert.equal(engine.images.tag('a:1', 'b'), 'docker.io/library/b:latest');
    engine.images.tag(image.id, 'localhost:5000/c/d:e');
    assert.deepEqual(engine.images.store.repoTags(image.id), ['a:1', 'b:latest', 'localhost:5000/c/d:e']);
    assert.throws(
      () => engine.images.tag('a:1', `x@sha256:${'a'.repeat(64)}`),
      /refusing to create a tag with a digest/,
    );
    assert.throws(() => engine.images.tag('missing', 'x'), /No such image: missing:latest/);
    assert.deepEqual(await engine.images.remove('b'), [{ Untagged: 'b:latest' }]);
    await assert.rejects(engine.images.remove(image.id), {
      name: 'ConflictError',
      message: `conflict: unable to delete ${image.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
    });
    // a container uses it (the placeholder containers table, as the container service will fill it)
    engine.db.sql
      .prepare('INSERT INTO containers (id, name, image_id, created_at) VALUES (?, ?, ?, ?)')
      .run('c'.repeat(64), 'c1', image.id, 0);
    engine.images.remove('localhost:5000/c/d:e');
    await assert.rejects(
      engine.images.remove('a:1'),
      /must force\) - container cccccccccccc is using its referenced image/,
    );
    await assert.rejects(
      engine.images.remove(image.id),
      /must be forced\) - image is being used by stopped container cccccccccccc/,
    );
    const removed = await engine.images.remove(image.id, { force: true });
    assert.deepEqual(removed, [{ Untagged: 'a:1' }, { Deleted: image.id }]);
    engine.db.sql.prepare('DELETE FROM containers').run();
    assert.equal(engine.images.store.find(image.id), undefined);
  });

  it("writes inspect's Config as Docker marshals container.Config: field order, sorted maps", async () => {
    // as a config written by another tool holds them: maps unsorted, Healthcheck fields in any order
    const image = await makeImage(engine, [await tarOf({ order: 'x' })], {
      labels: { zeta: '1', alpha: '2' },
      config: {
        Cmd: ['x'],
        Volumes: { '/zz': {}, '/aa': {} },
        ExposedPorts: { '8080/tcp': {}, '443/udp': {} },
        Healthcheck: { Retries: 0, Interval: 5_000_000_000, Test: ['CMD-SHELL', 'true'] },
        ArgsEscaped: false,
      },
    });
    const config = (await engine.images.inspect(image.id)).Config;
    assert.deepEqual(Object.keys(config), [
      'Hostname',
      'Domainname',
      'User',
      'AttachStdin',
      'AttachStdout',
      'AttachStderr',
      'ExposedPorts',
      'Tty',
      'OpenStdin',
      'StdinOnce',
      'Env',
      'Cmd',
      'Healthcheck',
      'Image',
      'Volumes',
      'WorkingDir',
      'Entrypoint',
      'OnBuild',
      'Labels',
    ]);
    assert.equal(JSON.stringify(config.Labels), '{"alpha":"2","zeta":"1"}');
    assert.equal(JSON.stringify(config.ExposedPorts), '{"443/udp":{},"8080/tcp":{}}');
    assert.equal(JSON.stringify(config.Volumes), '{"/aa":{},"/zz":{}}');
    assert.equal(JSON.stringify(config.Healthcheck), '{"Test":["CMD-SHELL","true"],"Interval":5000000000}');
    await engine.images.remove(image.id);
  });

  it('load: a file that is no tar archive is a bad archive (InvalidArgumentError), not a crash', async () => {
    for (const bytes of [Buffer.from('garbage\n'), Buffer.from('not a tar at all '.repeat(64))]) {
      await assert.rejects(engine.images.load(Readable.from([bytes])), (error: Error) => {
        assert.equal(error.name, 'InvalidArgumentError');
        assert.match(error.message, /^Cannot load: invalid tar archive: /);
        return true;
      });
    }
    // a truncated gzip stream: the decompressor's error, worded the same way
    const { gzipSync } = await import('node:zlib');
    const truncated = gzipSync(await tarOf({ a: 'a'.repeat(4096) })).subarray(0, 40);
    await assert.rejects(
      engine.images.load(Readable.from([truncated])),
      /^InvalidArgumentError: Cannot load: invalid tar archive: /,
    );
  });

  it('refuses rmi by id of an image with two tags of one repository, as Docker does', async () => {
    const image = await makeImage(engine, [await tarOf({ two: 'tags' })], {
      tags: ['twotags:1', 'twotags:2'],
    });
    await assert.rejects(engine.images.remove(image.id), {
      name: 'ConflictError',
      message: `conflict: unable to delete ${image.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
    });
    assert.deepEqual(engine.images.store.repoTags(image.id), ['twotags:1', 'twotags:2']);
    // the check comes before the one for stopped containers
    engine.db.sql
      .prepare('INSERT INTO containers (id, name, image_id, created_at) VALUES (?, ?, ?, ?)')
      .run('e'.repeat(64), 'e1', image.id, 0);
    await assert.rejects(engine.images.remove(image.id), /image is referenced in multiple repositories/);
    engine.db.sql.prepare('DELETE FROM containers').run();
    assert.deepEqual(await engine.images.remove(image.id, { force: true }), [
      { Untagged: 'twotags:1' },
      { Untagged: 'twotags:2' },
      { Deleted: image.id },
    ]);
    // one tag and a repo digest of the same repository are a single reference: deleted by id
    const pulled = await makeImage(engine, [await tarOf({ one: 'tag' })], { tags: ['onetag:1'] });
    engine.images.store.addRepoDigest(pulled.id, `onetag@sha256:${'e'.repeat(64)}`);
    assert.deepEqual(await engine.images.remove(pulled.id), [
      { Untagged: 'onetag:1' },
      { Untagged: `onetag@sha256:${'e'.repeat(64)}` },
      { Deleted: pulled.id },
    ]);
  });

  it('keeps parents with children, and prunes untagged parents after their child', async () => {
    const base = await tarOf({ base: 'base' });
    const parent = await makeImage(engine, [base]);
    const child = await makeImage(engine, [base, await tarOf({ top: 'top' })], {
      tags: ['child:1'],
      parent: parent.id,
    });
    await assert.rejects(engine.images.remove(parent.id), /image has dependent child images/);
    // untagged parents of tagged images are intermediate: hidden without -a
    assert.ok(!(await engine.images.list()).some((s) => s.Id === parent.id));
    assert.ok((await engine.images.list({ all: true })).some((s) => s.Id === parent.id));
    const history = await engine.images.history('child:1');
    assert.deepEqual(
      history.map((h) => h.Id),
      [child.id, parent.id],
    );
    const removed = await engine.images.remove('child:1');
    assert.deepEqual(removed, [{ Untagged: 'child:1' }, { Deleted: child.id }, { Deleted: parent.id }]);
  });

  it('adds exactly the new blobs for an image on a shared base, and frees only unshared ones', async () => {
    const base = await tarOf({ 'etc/os-release': 'base' });
    const before = await blobNames(root);
    const a = await makeImage(engine, [base], { tags: ['shared-a:1'] });
    const afterA = await blobNames(root);
    const top = await tarOf({ 'app/main': 'app' });
    const b = await makeImage(engine, [base, top], { tags: ['shared-b:1'] });
    const afterB = await blobNames(root);
    const added = [...afterB].filter((name) => !afterA.has(name)).sort();
    const hex = (d: string) => d.slice(7);
    const bManifest = engine.images.store.get(b.id).manifestDigest;
    assert.deepEqual(added, [hex(digestBytes(top)), hex(b.id), hex(bManifest)].sort());
    assert.equal(afterA.size - before.size, 3); // layer, config, manifest
    const df = await engine.images.df();
    const dfB = df.Images.find((i) => i.Id === b.id)!;
    assert.equal(dfB.SharedSize, base.length);
    assert.equal(dfB.Containers, 0);
    await engine.images.remove('shared-b:1');
    const afterRemove = await blobNames(root);
    assert.deepEqual(afterRemove, afterA); // the base stays: shared-a still uses it
    await engine.images.remove(a.id);
    assert.deepEqual(await blobNames(root), before);
  });

  it('lists with Docker filters and prunes dangling, then all unused, images', async () => {
    const old = await makeImage(engine, [await tarOf({ o: 'o' })], {
      tags: ['filt/old:1'],
      created: '2020-01-01T00:00:00Z',
      labels: { tier: 'db' },
    });
    const recent = await makeImage(engine, [await tarOf({ r: 'r' })], {
      tags: ['filt/new:1', 'other:1'],
      labels: { tier: 'web' },
    });
    const dangling = await makeImage(engine, [await tarOf({ d: 'd' })]);
    const ids = async (filters: Record<string, string[]>) =>
      (await engine.images.list({ filters }))
        .map((s) => s.Id)
        .filter((id) => [old.id, recent.id, dangling.id].includes(id));
    assert.deepEqual(await ids({ dangling: ['true'] }), [dangling.id]);
    assert.deepEqual(await ids({ reference: ['filt/*'] }), [recent.id, old.id]);
    const byRef = (await engine.images.list({ filters: { reference: ['filt/*'] } })).find(
      (s) => s.Id === recent.id,
    )!;
    assert.deepEqual(byRef.RepoTags, ['filt/new:1']);
    assert.deepEqual(await ids({ label: ['tier=db'] }), [old.id]);
    assert.deepEqual(await ids({ before: ['filt/new:1'] }), [old.id]);
    assert.deepEqual(await ids({ since: ['filt/old:1'], dangling: ['false'] }), [recent.id]);
    await assert.rejects(engine.images.list({ filters: { bogus: ['1'] } }), /invalid filter 'bogus'/);
    const all = await engine.images.list();
    assert.ok(
      all.every((s, i) => i === 0 || all[i - 1]!.Created >= s.Created),
      'newest first',
    );

    const dry = await engine.images.prune();
    assert.deepEqual(dry.ImagesDeleted, [{ Deleted: dangling.id }]);
    assert.ok(dry.SpaceReclaimed > 0);
    const labelled = await engine.images.prune({ all: true, filters: { label: ['tier=db'] } });
    assert.deepEqual(labelled.ImagesDeleted, [{ Untagged: 'filt/old:1' }, { Deleted: old.id }]);
    const rest = await engine.images.prune({ all: true });
    assert.ok(rest.ImagesDeleted?.some((item) => 'Deleted' in item && item.Deleted === recent.id));
    assert.deepEqual(await engine.images.list({ all: true }), []);
    assert.deepEqual((await engine.images.prune({ all: true })).ImagesDeleted, null);
  });

  it('filters repo digests by reference like tags, and lists an image a digest alone matches', async () => {
    const tagged = await makeImage(engine, [await tarOf({ t: 't' })], { tags: ['refs/tagged:1'] });
    const pulled = await makeImage(engine, [await tarOf({ p: 'p' })]);
    const digest = `sha256:${'d'.repeat(64)}`;
    engine.images.store.addRepoDigest(tagged.id, `registry.example:5000/team/tagged@${digest}`);
    engine.images.store.addRepoDigest(pulled.id, `refs/pulled@${digest}`);
    const listed = async (pattern: string) =>
      (await engine.images.list({ filters: { reference: [pattern] } }))
        .filter((s) => s.Id === tagged.id || s.Id === pulled.id)
        .map((s) => [s.Id === tagged.id ? 'tagged' : 'pulled', s.RepoTags, s.RepoDigests]);
    // Docker's FamiliarMatch on each reference: the other registry's digest is not listed
    assert.deepEqual(await listed('refs/*'), [
      ['pulled', [], [`refs/pulled@${digest}`]],
      ['tagged', ['refs/tagged:1'], []],
    ]);
    assert.deepEqual(await listed('registry.example:5000/*/*'), [
      ['tagged', [], [`registry.example:5000/team/tagged@${digest}`]],
    ]);
    await engine.images.remove(tagged.id, { force: true });
    await engine.images.remove(pulled.id, { force: true });
  });
});
