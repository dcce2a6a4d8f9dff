// Docker's config.json as Wharf reads and writes it, in a temp DOCKER_CONFIG directory.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CredentialStore, defaultDockerConfigDir } from '../../../src/distribution/credential-store.ts';

describe('credential store (config.json)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-docker-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('honours DOCKER_CONFIG, else ~/.docker', () => {
    assert.equal(defaultDockerConfigDir({ DOCKER_CONFIG: '/x/y' }), '/x/y');
    assert.equal(defaultDockerConfigDir({ HOME: '/home/u' }), '/home/u/.docker');
  });

  it("reads what docker login wrote, in any of Docker's key spellings", async () => {
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') },
          'http://localhost:5000/v2/': { auth: Buffer.from('u:p:with:colons').toString('base64') },
          'registry.example': { identitytoken: 'refresh-me' },
        },
        psFormat: 'table {{.ID}}',
      }),
    );
    const store = new CredentialStore(dir);
    assert.deepEqual(await store.get('docker.io'), { username: 'hubuser', password: 'hubpass' });
    assert.deepEqual(await store.get('localhost:5000'), { username: 'u', password: 'p:with:colons' });
    assert.deepEqual(await store.get('registry.example'), {
      username: '',
      password: '',
      identityToken: 'refresh-me',
    });
    assert.equal(await store.get('other:1'), undefined);
  });

  it('writes atomically with mode 0600, replacing other spellings and keeping unknown fields', async () => {
    const store = new CredentialStore(dir);
    await store.store('localhost:5000', { username: 'new', password: 'secret' });
    const config = JSON.parse(await readFile(store.path, 'utf8')) as Record<string, unknown> & {
      auths: Record<string, { auth?: string }>;
    };
    assert.equal(config.psFormat, 'table {{.ID}}');
    assert.equal(config.auths['http://localhost:5000/v2/'], undefined);
    assert.equal(Buffer.from(config.auths['localhost:5000']!.auth!, 'base64').toString(), 'new:secret');
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    assert.equal(await store.erase('localhost:5000'), true);
    assert.equal(await store.erase('localhost:5000'), false);
    assert.equal(await store.get('localhost:5000'), undefined);
    assert.ok(await store.get('docker.io'), 'others untouched');
  });

  it('refuses a broken config.json with a clear message', async () => {
    const broken = await mkdtemp(join(dir, 'broken-'));
    await writeFile(join(broken, 'config.json'), '{ not json');
    await assert.rejects(
      new CredentialStore(broken).get('x'),
      /^FailedPreconditionError: Cannot read .*config\.json/,
    );
  });
});
