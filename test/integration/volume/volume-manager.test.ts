/**
 * Volumes at the volume manager's level, with a real SQLite file and real mounts: records,
 * Docker's filters and refusals, the mount resolver's precedence, the seeding of a new volume
 * from the image's files (owners, modes, xattrs; once), a tmpfs volume whose content goes with
 * its last user, read-only mounts refusing writes, and anonymous volumes going with `rm -v`.
 * Containers are rows in the containers table whose definitions carry the mount points, exactly
 * what the container service stores.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTAINER_MIGRATIONS } from '../../../src/container/container-records.ts';
import { isMountPoint } from '../../../src/container/mount-points.ts';
import type { StoredMountPoint } from '../../../src/container/volume/mount-points.ts';
import { parseMountFlag } from '../../../src/container/volume/mount-spec.ts';
import { VolumeManager } from '../../../src/container/volume/volume-manager.ts';
import { type MetadataDatabase, openMetadataDatabase } from '../../../src/metadata/database.ts';
import type { MountRequest } from '../../../src/runtime/spec.ts';
import { mountAt, unmount } from '../../../src/snapshot/mount.ts';

let serial = 0;

/** A container row whose definition carries `points` (what the container service stores). */
function addContainer(
  db: MetadataDatabase,
  name: string,
  points: StoredMountPoint[],
  state = 'created',
): string {
  const id = `${String(++serial).padStart(4, '0')}${'c'.repeat(60)}`;
  db.write(() =>
    db.sql
      .prepare(
        'INSERT INTO containers (id, name, image_id, created_at, spec, state) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(id, name, 'sha256:none', Date.now(), JSON.stringify({ MountPoints: points }), state),
  );
  return id;
}

function removeContainer(db: MetadataDatabase, id: string): void {
  db.write(() => db.sql.prepare('DELETE FROM containers WHERE id = ?').run(id));
}

/** Applies one OCI mount request on `target` the way the runtime would (binds and tmpfs). */
async function realize(request: MountRequest, target: string): Promise<void> {
  mkdirSync(target, { recursive: true });
  if (request.type === 'bind') {
    await mountAt(
      [{ type: 'bind', source: request.source, options: ['rbind', request.readonly ? 'ro' : 'rw'] }],
      target,
    );
  } else {
    const options = [...(request.options ?? [])];
    if (request.size !== undefined) options.push(`size=${request.size}`);
    if (request.mode !== undefined) options.push(`mode=${request.mode.toString(8)}`);
    await mountAt([{ type: 'tmpfs', source: 'tmpfs', options }], target);
  }
}

describe('volume manager', () => {
  let root: string;
  let db: MetadataDatabase;
  let volumes: VolumeManager;
  let rootfs: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-volumes-'));
    db = openMetadataDatabase(root, { migrations: CONTAINER_MIGRATIONS });
    volumes = new VolumeManager(db, root);
    // An image's files: /data with content owned by 1000:1000, a mode, an xattr; /file a file.
    rootfs = join(root, 'rootfs');
    mkdirSync(join(rootfs, 'data', 'sub'), { recursive: true });
    writeFileSync(join(rootfs, 'data', 'seed.txt'), 'from the image\n');
    writeFileSync(join(rootfs, 'data', 'sub', 'deep.txt'), 'deep\n');
    execFileSync('chown', ['-R', '1000:1000', join(rootfs, 'data')]);
    execFileSync('chmod', ['0750', join(rootfs, 'data')]);
    execFileSync('chmod', ['0600', join(rootfs, 'data', 'seed.txt')]);
    execFileSync('setfattr', ['-n', 'user.origin', '-v', 'image', join(rootfs, 'data', 'seed.txt')]);
    writeFileSync(join(rootfs, 'file'), 'a file\n');
  });

  after(async () => {
    db?.close();
    if (!root) return;
    // Whatever a failure left mounted under the root goes first.
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((point): point is string => point?.startsWith(root) === true)
      .reverse();
    for (const point of mounts) spawnSync('umount', ['-l', point]);
    await rm(root, { recursive: true, force: true });
  });

  it('creates, lists, inspects and removes volumes as Docker does', async () => {
    const made = volumes.create({ name: 'data1', labels: { team: 'a' } });
    assert.equal(made.name, 'data1');
    assert.ok(existsSync(join(root, 'volumes', 'data1', '_data')));
    assert.equal(
      volumes.create({ name: 'data1', labels: { other: 'x' } }).labels.team,
      'a',
      'an existing volume is returned',
    );
    const random = volumes.create({});
    assert.match(random.name, /^[0-9a-f]{64}$/);
    const view = volumes.view(volumes.get('data1'));
    assert.deepEqual(Object.keys(view), [
      'CreatedAt',
      'Driver',
      'Labels',
      'Mountpoint',
      'Name',
      'Options',
      'Scope',
    ]);
    assert.equal(view.Mountpoint, join(root, 'volumes', 'data1', '_data'));
    assert.match(view.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(
      volumes.list({ label: ['team=a'] }).map((v) => v.name),
      ['data1'],
    );
    assert.deepEqual(
      volumes.list({ name: ['^data'] }).map((v) => v.name),
      ['data1'],
    );
    assert.throws(() => volumes.create({ name: 'no/slash' }), /includes invalid characters/);
    assert.throws(() => volumes.create({ name: 'opts', options: { foo: 'bar' } }), /invalid option: "foo"/);
    assert.throws(
      () => volumes.create({ name: 'opts', options: { type: 'tmpfs' } }),
      /missing required option: "device"/,
    );
    assert.throws(() => volumes.get('nope'), /get nope: no such volume/);
    await volumes.remove(random.name);
    await volumes.remove('nope', { force: true });
    await assert.rejects(volumes.remove('nope'), /no such volume/);
  });

  it('refuses to remove a volume a container uses, and prunes what nobody uses', async () => {
    volumes.create({ name: 'used' });
    volumes.create({ name: 'named-unused' });
    const anonymous = volumes.create({ anonymous: true });
    const id = addContainer(db, 'user', [
      {
        Type: 'volume',
        Name: 'used',
        Source: volumes.dataPath('used'),
        Destination: '/u',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
    ]);
    await assert.rejects(volumes.remove('used'), new RegExp(`remove used: volume is in use - \\[${id}\\]`));
    assert.deepEqual(
      volumes.list({ dangling: ['false'] }).map((v) => v.name),
      ['used'],
    );
    // Docker 23: prune takes anonymous volumes only, unless --all.
    const pruned = await volumes.prune();
    assert.deepEqual(pruned.removed, [anonymous.name]);
    assert.ok(volumes.store.get('named-unused'));
    const all = await volumes.prune({ all: true });
    assert.ok(all.removed.includes('named-unused'));
    assert.ok(!all.removed.includes('used'));
    removeContainer(db, id);
    await volumes.remove('used');
  });

  it('resolves -v, --mount, --tmpfs, --volumes-from and image volumes with Docker precedence', async () => {
    const hostDir = join(root, 'host-dir');
    mkdirSync(hostDir);
    const sourceId = addContainer(db, 'datasrc', [
      {
        Type: 'volume',
        Name: 'shared',
        Source: '/x',
        Destination: '/shared',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
      { Type: 'bind', Source: hostDir, Destination: '/over', Mode: '', RW: true, Propagation: 'rprivate' },
    ]);
    volumes.create({ name: 'shared' });
    const points = volumes.resolveMounts({
      config: { Volumes: { '/image-vol': {}, '/named': {}, '/run/t': {} } },
      hostConfig: {
        VolumesFrom: ['datasrc:ro'],
        Binds: ['named:/named', `${hostDir}:/over:ro,Z`],
        Mounts: [
          parseMountFlag('type=volume,src=optvol,dst=/opt/v,volume-opt=type=tmpfs,volume-opt=device=tmpfs'),
        ],
        Tmpfs: { '/run/t': 'size=1m' },
      },
    });
    const byDest = new Map(points.map((point) => [point.Destination, point]));
    assert.equal(byDest.get('/shared')?.RW, false, '--volumes-from :ro');
    assert.equal(byDest.get('/over')?.Type, 'bind');
    assert.equal(byDest.get('/over')?.RW, false, '-v replaces --volumes-from');
    assert.equal(byDest.get('/over')?.Mode, 'ro,Z');
    assert.equal(byDest.get('/named')?.Name, 'named', 'an explicit mount wins over the image volume');
    assert.equal(byDest.get('/named')?.Mode, 'z');
    assert.deepEqual(volumes.get('optvol').options, { type: 'tmpfs', device: 'tmpfs' });
    assert.equal(byDest.get('/run/t')?.Type, 'tmpfs', '--tmpfs wins over the image volume');
    const anonymous = byDest.get('/image-vol')!;
    assert.equal(anonymous.Anonymous, true);
    assert.ok(volumes.get(anonymous.Name!).anonymous);
    assert.equal(volumes.get(anonymous.Name!).labels['com.docker.volume.anonymous'], '');
    // Parents before children, for the runtime.
    const depths = points.map((p) => p.Destination.split('/').length);
    assert.deepEqual(
      depths,
      [...depths].sort((a, b) => a - b),
    );
    assert.throws(
      () => volumes.resolveMounts({ config: {}, hostConfig: { Binds: ['aa:/x', 'bb:/x'] } }),
      /Duplicate mount point: \/x/,
    );
    assert.throws(
      () =>
        volumes.resolveMounts({
          config: {},
          hostConfig: { Mounts: [{ Type: 'bind', Source: '/no/such/dir', Target: '/x' }] },
        }),
      /bind source path does not exist: \/no\/such\/dir/,
    );
    removeContainer(db, sourceId);
  });

  it('seeds a new volume from the image once, keeping owners, modes and xattrs', async () => {
    const points = volumes.resolveMounts({
      config: {},
      hostConfig: { Binds: ['seeded:/data', 'nocopy:/data2:nocopy'] },
    });
    const mounts = await volumes.prepareMounts(points, rootfs);
    const data = volumes.dataPath('seeded');
    assert.deepEqual(mounts[0], {
      type: 'bind',
      source: data,
      destination: '/data',
      readonly: false,
      propagation: 'rprivate',
    });
    assert.equal(readFileSync(join(data, 'seed.txt'), 'utf8'), 'from the image\n');
    assert.equal(readFileSync(join(data, 'sub', 'deep.txt'), 'utf8'), 'deep\n');
    const seed = lstatSync(join(data, 'seed.txt'));
    assert.equal(seed.uid, 1000);
    assert.equal(seed.mode & 0o777, 0o600);
    assert.equal(lstatSync(data).mode & 0o777, 0o750, "the volume's root takes the image directory's mode");
    assert.equal(lstatSync(data).uid, 1000);
    const xattr = spawnSync('getfattr', ['--only-values', '-n', 'user.origin', join(data, 'seed.txt')], {
      encoding: 'utf8',
    });
    assert.equal(xattr.stdout, 'image');
    assert.deepEqual(readdirSync(volumes.dataPath('nocopy')), [], 'nocopy is not seeded');
    // A second start finds the volume in use by its data: nothing is copied again.
    writeFileSync(join(data, 'seed.txt'), 'changed by a container\n');
    execFileSync('rm', ['-r', join(data, 'sub')]);
    await volumes.prepareMounts(points, rootfs);
    assert.equal(readFileSync(join(data, 'seed.txt'), 'utf8'), 'changed by a container\n');
    assert.ok(!existsSync(join(data, 'sub')));
    // A volume over an image file is refused, as Docker does.
    const onFile = volumes.resolveMounts({ config: { Volumes: { '/file': {} } }, hostConfig: {} });
    await assert.rejects(volumes.prepareMounts(onFile, rootfs), /cannot mount volume over existing file/);
  });

  it('mounts read-only when asked, and the mount refuses writes', async () => {
    const hostDir = join(root, 'ro-source');
    mkdirSync(hostDir);
    const points = volumes.resolveMounts({
      config: {},
      hostConfig: { Binds: [`${hostDir}:/ro:ro`, 'rovol:/rovol:ro'] },
    });
    const mounts = await volumes.prepareMounts(points, rootfs);
    assert.ok(mounts.every((mount) => mount.type === 'bind' && mount.readonly));
    for (const [i, mount] of mounts.entries()) {
      const target = join(root, `ro-target-${i}`);
      await realize(mount, target);
      try {
        assert.throws(() => writeFileSync(join(target, 'x'), 'no'), /EROFS/);
      } finally {
        await unmount(target);
      }
    }
  });

  it('keeps a tmpfs volume while a container runs with it, and loses its content after', async () => {
    const points = volumes.resolveMounts({
      config: {},
      hostConfig: {
        Mounts: [
          parseMountFlag(
            'type=volume,src=scratch,dst=/data,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=4m',
          ),
        ],
      },
    });
    const id = addContainer(db, 'tmpfs-user', points, 'running');
    const data = volumes.dataPath('scratch');
    await volumes.prepareMounts(points, rootfs);
    assert.ok(await isMountPoint(data));
    assert.equal(readFileSync(join(data, 'seed.txt'), 'utf8'), 'from the image\n', 'seeded on its tmpfs');
    writeFileSync(join(data, 'runtime.txt'), 'gone at the end\n');
    // Another running user keeps it mounted.
    const other = addContainer(db, 'tmpfs-other', points, 'running');
    await volumes.releaseMounts(id, points);
    assert.ok(await isMountPoint(data));
    removeContainer(db, other);
    await volumes.releaseMounts(id, points);
    assert.ok(!(await isMountPoint(data)));
    // Next start: a fresh tmpfs, seeded again, without what the last run wrote.
    await volumes.prepareMounts(points, rootfs);
    assert.ok(!existsSync(join(data, 'runtime.txt')));
    await volumes.releaseMounts(id, points);
    removeContainer(db, id);
    await volumes.remove('scratch');
  });

  it("removes a container's anonymous volumes with it, not named or shared ones", async () => {
    const points = volumes.resolveMounts({
      config: { Volumes: { '/anon': {} } },
      hostConfig: { Binds: ['keepme:/keep'] },
    });
    const id = addContainer(db, 'rmv', points);
    const anonymous = points.find((p) => p.Destination === '/anon')!.Name!;
    // Shared through --volumes-from: stays while the other container uses it.
    const sharing = volumes.resolveMounts({ config: {}, hostConfig: { VolumesFrom: ['rmv'] } });
    const other = addContainer(db, 'sharer', sharing);
    assert.deepEqual(await volumes.removeAnonymousVolumes(id, points), []);
    removeContainer(db, other);
    assert.deepEqual(await volumes.removeAnonymousVolumes(id, points), [anonymous]);
    removeContainer(db, id);
    assert.ok(volumes.store.get('keepme'));
    assert.equal(volumes.store.get(anonymous), undefined);
    assert.ok(!existsSync(join(root, 'volumes', anonymous)));
  });
});
