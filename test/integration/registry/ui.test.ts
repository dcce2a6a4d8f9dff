// The registry's read-only web UI over loopback HTTP: the index lists what the viewer may pull
// (public projects anonymously, private ones to members signed in with Basic), repository and
// manifest pages show tags, digests, sizes, layers and config, private names never leak (404),
// every user-controlled value is escaped, the security headers are there, pages are paged, and
// `/v2/` answers as before.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AccountService } from '../../../src/registry/auth/account-service.ts';
import { SqliteAccessStore } from '../../../src/registry/auth/sqlite-access-store.ts';
import {
  basicAuth,
  digestOf,
  errorCodes,
  generateImage,
  generateIndex,
  http,
  OCI_MANIFEST,
  pushImage,
  pushManifest,
  type Response,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

const ADMIN = basicAuth('admin', 'admin-pw');
const ALICE = basicAuth('alice', 'alice-pw'); // developer of the private project `team`
const BOB = basicAuth('bob', 'bob-pw'); // no membership
const HOSTILE = '<script>alert(1)</script>';

const text = (response: Response) => response.body.toString('utf8');

/** A config with the fields the manifest page shows, some of them hostile. */
function imageConfig(): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'arm64',
      os: 'linux',
      created: '2026-11-01T12:34:56Z',
      config: {
        Env: ['PATH=/usr/bin', `EVIL=${HOSTILE}`],
        Entrypoint: ['/bin/app'],
        Cmd: ['--serve'],
        Labels: { 'org.example.title': HOSTILE, 'x"\'><b>': 'quote' },
      },
      rootfs: { type: 'layers', diff_ids: [digestOf('a'), digestOf('b')] },
      history: [{ created: '2026-11-01T12:34:56Z', created_by: `RUN echo "<img src=x onerror=alert(2)>"` }],
    }),
  );
}

describe('registry web UI', () => {
  let registry: TestRegistry;
  let store: SqliteAccessStore;
  let robotSecret = '';
  const image = generateImage({ configBytes: imageConfig(), layers: 2, layerSize: 300 });
  const secret = generateImage();
  const amd64 = generateImage({ platform: { os: 'linux', architecture: 'amd64' } });
  const arm64 = generateImage({ platform: { os: 'linux', architecture: 'arm64' } });
  const index = generateIndex([
    { manifest: amd64.manifest, mediaType: OCI_MANIFEST, platform: { os: 'linux', architecture: 'amd64' } },
    { manifest: arm64.manifest, mediaType: OCI_MANIFEST, platform: { os: 'linux', architecture: 'arm64' } },
  ]);

  before(async () => {
    registry = await startTestRegistry();
    store = SqliteAccessStore.open(`${registry.storage}/access.db`);
    const accounts = new AccountService(store);
    await accounts.addUser('admin', 'admin-pw', { admin: true });
    await accounts.addUser('alice', 'alice-pw');
    await accounts.addUser('bob', 'bob-pw');
    await accounts.createProject('team');
    await accounts.createProject('pub', { public: true });
    await accounts.setMember('team', 'alice', 'developer');
    robotSecret = (await accounts.createRobot('reader', [{ project: 'team', actions: ['pull'] }])).secret;
    const pushes = [
      await pushImage(registry.url, 'pub/app', image, 'v1', ADMIN),
      await pushImage(registry.url, 'team/secret', secret, 'v1', ADMIN),
      await pushImage(registry.url, 'pub/multi', amd64, undefined, ADMIN),
      await pushImage(registry.url, 'pub/multi', arm64, undefined, ADMIN),
      await pushManifest(registry.url, 'pub/multi', 'latest', index.manifest, index.mediaType, ADMIN),
    ];
    for (const response of pushes) assert.equal(response.status, 201, text(response));
  });
  after(async () => {
    await store?.close();
    await registry?.close();
  });

  it('redirects / to /ui/ and sends a script-free CSP, nosniff and no-store', async () => {
    const root = await http('GET', registry.url, '/');
    assert.equal(root.status, 302);
    assert.equal(root.header('location'), '/ui/');
    const page = await http('GET', registry.url, '/ui/');
    assert.equal(page.status, 200);
    assert.match(page.header('content-type')!, /^text\/html; charset=utf-8/);
    const csp = page.header('content-security-policy')!;
    assert.match(csp, /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /script-src|unsafe/);
    assert.equal(page.header('x-content-type-options'), 'nosniff');
    assert.equal(page.header('cache-control'), 'no-store');
    assert.doesNotMatch(text(page), /<script/i);
  });

  it('lists public repositories to anonymous viewers and never a private one', async () => {
    const page = text(await http('GET', registry.url, '/ui/'));
    assert.match(page, /href="\/ui\/r\/pub\/app">pub\/app<\/a><\/td><td class="num">1</);
    assert.match(page, /href="\/ui\/r\/pub\/multi">pub\/multi<\/a><\/td><td class="num">1</);
    assert.match(page, /<h2>pub <span class="badge public">public<\/span><\/h2>/);
    assert.doesNotMatch(page, /secret|<h2>team/);
    assert.doesNotMatch(text(await http('GET', registry.url, '/ui/', { headers: BOB })), /secret/);
  });

  it('answers a private repository with the same 404 as a missing one', async () => {
    for (const path of ['/ui/r/team/secret', `/ui/r/team/secret/m/${secret.digest}`]) {
      const anonymous = await http('GET', registry.url, path);
      assert.equal(anonymous.status, 404, path);
      assert.doesNotMatch(text(anonymous), /secret/);
      assert.equal(anonymous.header('content-security-policy')?.startsWith("default-src 'none'"), true);
      assert.equal((await http('GET', registry.url, path, { headers: BOB })).status, 404, path);
    }
    const missing = await http('GET', registry.url, '/ui/r/team/nothing');
    assert.equal(missing.status, 404);
    assert.equal(text(missing), text(await http('GET', registry.url, '/ui/r/team/secret')));
    assert.equal((await http('GET', registry.url, '/ui/r/pub/app/m/sha256:bad')).status, 404);
  });

  it('asks for Basic credentials on /ui/login and with bad ones; good ones show private projects', async () => {
    const login = await http('GET', registry.url, '/ui/login');
    assert.equal(login.status, 401);
    assert.match(login.header('www-authenticate')!, /^Basic realm="Wharf registry"/);
    const wrong = await http('GET', registry.url, '/ui/', { headers: basicAuth('alice', 'nope') });
    assert.equal(wrong.status, 401);
    assert.match(wrong.header('www-authenticate')!, /^Basic /);
    const signedIn = await http('GET', registry.url, '/ui/login', { headers: ALICE });
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.header('location'), '/ui/');

    const page = text(await http('GET', registry.url, '/ui/', { headers: ALICE }));
    assert.match(page, /<h2>team <span class="badge private">private<\/span><\/h2>/);
    assert.match(page, /href="\/ui\/r\/team\/secret">team\/secret</);
    assert.match(page, /signed in as <strong>alice<\/strong>/);
    const repository = await http('GET', registry.url, '/ui/r/team/secret', { headers: ALICE });
    assert.equal(repository.status, 200);
    assert.match(text(repository), new RegExp(`title="${secret.digest}"`));
    const robot = basicAuth('robot$reader', robotSecret);
    assert.match(text(await http('GET', registry.url, '/ui/', { headers: robot })), /team\/secret/);
    assert.equal((await http('GET', registry.url, '/ui/r/team/secret', { headers: robot })).status, 200);
  });

  it('lists a repository’s tags with digest, media type, size, created time and platform', async () => {
    const response = await http('GET', registry.url, '/ui/r/pub/app');
    assert.equal(response.status, 200);
    const page = text(response);
    const total = image.blobs.reduce((sum, blob) => sum + blob.byteLength, 0);
    assert.match(page, /<strong>v1<\/strong>/);
    assert.ok(page.includes(`href="/ui/r/pub/app/m/${encodeURIComponent(image.digest)}"`), page);
    assert.ok(page.includes(`title="${image.digest}"`));
    assert.ok(page.includes(`<code>${OCI_MANIFEST}</code>`));
    assert.ok(page.includes(`title="${total} bytes"`), `total ${total}`);
    assert.ok(page.includes('2026-11-01 12:34:56 UTC'));
    assert.ok(page.includes('linux/arm64'));

    const multi = text(await http('GET', registry.url, '/ui/r/pub/multi'));
    assert.ok(multi.includes('linux/amd64, linux/arm64'), multi);
  });

  it('shows a manifest’s layers, config and JSON with every value escaped', async () => {
    const response = await http('GET', registry.url, `/ui/r/pub/app/m/${image.digest}`);
    assert.equal(response.status, 200);
    const page = text(response);
    for (const layer of image.layers) assert.ok(page.includes(`<code>${digestOf(layer)}</code>`));
    assert.ok(page.includes(`<code>${digestOf(image.config)}</code>`));
    assert.ok(page.includes('<code>[&quot;/bin/app&quot;]</code>'));
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(page.includes('EVIL=&lt;script&gt;'));
    assert.ok(page.includes('x&quot;&#39;&gt;&lt;b&gt;'));
    assert.ok(page.includes('&lt;img src=x onerror=alert(2)&gt;'));
    assert.ok(page.includes('&quot;schemaVersion&quot;: 2'), 'pretty JSON');
    assert.doesNotMatch(page, /<script|<img|<b>/i);

    const indexPage = text(await http('GET', registry.url, `/ui/r/pub/multi/m/${index.digest}`));
    assert.ok(indexPage.includes(`href="/ui/r/pub/multi/m/${encodeURIComponent(amd64.digest)}"`));
    assert.match(indexPage, /<td>linux\/arm64<\/td><td><a href="\/ui\/r\/pub\/multi\/m\//);
    // the child page opens too (with the colon left as is)
    assert.equal((await http('GET', registry.url, `/ui/r/pub/multi/m/${arm64.digest}`)).status, 200);
  });

  it('leaves /v2/ as it was', async () => {
    const ping = await http('GET', registry.url, '/v2/');
    assert.equal(ping.status, 401);
    assert.match(ping.header('www-authenticate')!, /^Bearer realm=/);
    assert.deepEqual(errorCodes(ping), ['UNAUTHORIZED']);
    const other = await http('GET', registry.url, '/nothing-here');
    assert.equal(other.status, 404);
    assert.deepEqual(errorCodes(other), ['UNSUPPORTED']);
  });
});

describe('registry web UI of an open registry', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({ ui: { pageSize: 2 } });
    for (const repository of ['a/one', 'b/two', 'c/three']) {
      for (const tag of ['t1', 't2', 't3']) {
        const response = await pushImage(registry.url, repository, generateImage({ layers: 1 }), tag);
        assert.equal(response.status, 201);
      }
    }
  });
  after(async () => {
    await registry?.close();
  });

  it('shows everything to anonymous viewers, a page at a time', async () => {
    const first = text(await http('GET', registry.url, '/ui/'));
    assert.ok(first.includes('a/one') && first.includes('b/two') && !first.includes('c/three'));
    assert.ok(first.includes('href="/ui/?last=b%2Ftwo"'), first);
    const second = text(await http('GET', registry.url, '/ui/?last=b%2Ftwo'));
    assert.ok(second.includes('c/three') && !second.includes('a/one'));
    assert.ok(!second.includes('Next page'));

    const tags = text(await http('GET', registry.url, '/ui/r/a/one'));
    assert.ok(tags.includes('<strong>t1</strong>') && tags.includes('<strong>t2</strong>'));
    assert.ok(!tags.includes('<strong>t3</strong>'));
    const more = text(await http('GET', registry.url, '/ui/r/a/one?last=t2'));
    assert.ok(more.includes('<strong>t3</strong>') && !more.includes('<strong>t1</strong>'));
    // a login has nothing to check against: back to the list
    assert.equal((await http('GET', registry.url, '/ui/login')).status, 303);
  });
});
