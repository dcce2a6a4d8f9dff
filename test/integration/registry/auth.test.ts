// Access control end to end over loopback HTTP: open until the first account, then Docker's token
// auth (challenges with the right scope, /token by GET and POST, refresh tokens), Basic accepted
// directly, projects public and private, member roles, robot accounts, htpasswd users, the
// filtered _catalog, the referrers API, mounts that must not leak, and the admin API.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { AccountService } from '../../../src/registry/auth/account-service.ts';
import { HtpasswdFile } from '../../../src/registry/auth/htpasswd.ts';
import { SqliteAccessStore } from '../../../src/registry/auth/sqlite-access-store.ts';
import {
  basicAuth,
  bearer,
  errorCodes,
  fetchToken,
  generateImage,
  http,
  jwtClaims,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  randomBlob,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

const ADMIN = { user: 'admin', password: 'admin-pw' };
const ALICE = { user: 'alice', password: 'alice-pw' }; // developer of team
const GUS = { user: 'gus', password: 'gus-pw' }; // guest of team
const CAROL = { user: 'carol', password: 'carol-pw' }; // from the htpasswd file, no membership

const basic = (who: { user: string; password: string }) => basicAuth(who.user, who.password);

describe('registry access control', () => {
  let registry: TestRegistry;
  let store: SqliteAccessStore;
  let accounts: AccountService;
  let robotSecret = '';

  let htpasswdDir = '';

  before(async () => {
    htpasswdDir = await mkdtemp(join(tmpdir(), 'wharf-htpasswd-'));
    const htpasswd = join(htpasswdDir, 'htpasswd');
    // htpasswd -B writes $2y$ hashes: so does this
    await writeFile(
      htpasswd,
      `# users\n${CAROL.user}:${bcrypt.hashSync(CAROL.password, 4).replace(/^\$2b\$/, '$2y$')}\n`,
    );
    registry = await startTestRegistry({ htpasswd: await HtpasswdFile.load(htpasswd) });
    // a second connection, as `wharf registry user ...` beside the server has
    store = SqliteAccessStore.open(join(registry.storage, 'access.db'));
    accounts = new AccountService(store);
  });
  after(async () => {
    await store?.close();
    await registry?.close();
    if (htpasswdDir) await rm(htpasswdDir, { recursive: true, force: true });
  });

  it('is enforced once the htpasswd file has a user; before any account it is open', async () => {
    const open = await startTestRegistry();
    try {
      assert.equal((await http('GET', open.url, '/v2/')).status, 200);
      const pushed = await pushImage(open.url, 'anyone/app', generateImage(), 'v1');
      assert.equal(pushed.status, 201);
      assert.equal((await http('GET', open.url, '/v2/_catalog')).status, 200);
    } finally {
      await open.close();
    }
    const ping = await http('GET', registry.url, '/v2/');
    assert.equal(ping.status, 401);
    assert.deepEqual(errorCodes(ping), ['UNAUTHORIZED']);
  });

  it('sets up accounts while the server runs', async () => {
    await accounts.addUser(ADMIN.user, ADMIN.password, { admin: true });
    await accounts.addUser(ALICE.user, ALICE.password);
    await accounts.addUser(GUS.user, GUS.password);
    await accounts.createProject('team');
    await accounts.createProject('pub', { public: true });
    await accounts.setMember('team', ALICE.user, 'developer');
    await accounts.setMember('team', GUS.user, 'guest');
    robotSecret = (await accounts.createRobot('ci', [{ project: 'team', actions: ['pull', 'push'] }])).secret;
    for (const repo of ['team/app', 'pub/app']) {
      const response = await pushImage(registry.url, repo, generateImage(), 'v1', basic(ADMIN));
      assert.equal(response.status, 201, response.body.toString());
    }
  });

  it('challenges anonymous requests with the Bearer realm, service and the scope they need', async () => {
    const ping = await http('GET', registry.url, '/v2/');
    assert.equal(ping.status, 401);
    assert.equal(
      ping.header('www-authenticate'),
      `Bearer realm="${registry.url}/token",service="wharf-registry"`,
    );
    const pull = await http('GET', registry.url, '/v2/team/app/manifests/v1');
    assert.equal(pull.status, 401);
    assert.deepEqual(errorCodes(pull), ['UNAUTHORIZED']);
    assert.equal(
      pull.header('www-authenticate'),
      `Bearer realm="${registry.url}/token",service="wharf-registry",scope="repository:team/app:pull"`,
    );
    const push = await http('POST', registry.url, '/v2/team/app/blobs/uploads/');
    assert.match(push.header('www-authenticate')!, /scope="repository:team\/app:pull,push"/);
    const del = await http('DELETE', registry.url, `/v2/team/app/manifests/v1`);
    assert.match(del.header('www-authenticate')!, /scope="repository:team\/app:delete"/);
    const catalog = await http('GET', registry.url, '/v2/_catalog');
    assert.match(catalog.header('www-authenticate')!, /scope="registry:catalog:\*"/);
  });

  it('serves anonymous pulls from public projects only', async () => {
    assert.equal((await http('GET', registry.url, '/v2/pub/app/manifests/v1')).status, 200);
    assert.equal((await http('GET', registry.url, '/v2/pub/app/tags/list')).status, 200);
    const anonymous = await fetchToken(registry.url, [
      'repository:team/app:pull',
      'repository:pub/app:pull,push',
    ]);
    assert.deepEqual(jwtClaims(anonymous).access, [
      { type: 'repository', name: 'pub/app', actions: ['pull'] },
    ]);
    const refused = await http('GET', registry.url, '/v2/team/app/manifests/v1', {
      headers: bearer(anonymous),
    });
    assert.equal(refused.status, 401);
    assert.match(refused.header('www-authenticate')!, /scope="repository:team\/app:pull"/);
    const push = await http('POST', registry.url, '/v2/pub/app/blobs/uploads/', {
      headers: bearer(anonymous),
    });
    assert.equal(push.status, 401);
  });

  it('accepts Basic credentials directly and refuses wrong ones with the challenge', async () => {
    assert.equal((await http('GET', registry.url, '/v2/', { headers: basic(ALICE) })).status, 200);
    assert.equal(
      (await http('GET', registry.url, '/v2/team/app/manifests/v1', { headers: basic(GUS) })).status,
      200,
    );
    const wrong = await http('GET', registry.url, '/v2/', { headers: basicAuth(ALICE.user, 'nope') });
    assert.equal(wrong.status, 401);
    assert.match(wrong.header('www-authenticate')!, /^Bearer realm=/);
    const badToken = await http('GET', registry.url, '/v2/', { headers: bearer('not.a.token') });
    assert.equal(badToken.status, 401);
    assert.match(badToken.header('www-authenticate')!, /error="invalid_token"/);
  });

  it('issues tokens with what the user may have of the scopes asked', async () => {
    const token = await fetchToken(
      registry.url,
      ['repository:team/app:pull,push,delete', 'repository:pub/app:pull', 'registry:catalog:*'],
      ALICE,
    );
    const claims = jwtClaims(token);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, 'wharf-registry');
    assert.deepEqual(claims.access, [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'pub/app', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as Record<
      string,
      string
    >;
    assert.equal(header.alg, 'ES256');
    assert.match(header.kid!, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    const image = generateImage();
    const pushed = await pushImage(registry.url, 'team/app', image, 'alice', bearer(token));
    assert.equal(pushed.status, 201, pushed.body.toString());
    assert.equal(
      (await http('GET', registry.url, '/v2/team/app/manifests/alice', { headers: bearer(token) })).status,
      200,
    );
    // a token for pull only does not push; alice could get push, so: 401 insufficient_scope
    const pullOnly = await fetchToken(registry.url, ['repository:team/app:pull'], ALICE);
    const refused = await http('POST', registry.url, '/v2/team/app/blobs/uploads/', {
      headers: bearer(pullOnly),
    });
    assert.equal(refused.status, 401);
    assert.match(refused.header('www-authenticate')!, /error="insufficient_scope"/);
    const wrongPassword = await http('GET', registry.url, '/token?service=wharf-registry', {
      headers: basicAuth(ALICE.user, 'nope'),
    });
    assert.equal(wrongPassword.status, 401);
  });

  it('refuses a push by a guest with 403 DENIED, by Basic and by Bearer', async () => {
    const direct = await http('POST', registry.url, '/v2/team/app/blobs/uploads/', { headers: basic(GUS) });
    assert.equal(direct.status, 403);
    assert.deepEqual(errorCodes(direct), ['DENIED']);
    const token = await fetchToken(registry.url, ['repository:team/app:pull,push'], GUS);
    assert.deepEqual(jwtClaims(token).access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const viaToken = await http('POST', registry.url, '/v2/team/app/blobs/uploads/', {
      headers: bearer(token),
    });
    assert.equal(viaToken.status, 403);
    assert.deepEqual(errorCodes(viaToken), ['DENIED']);
    const manifest = await http('PUT', registry.url, '/v2/team/app/manifests/gus', {
      headers: { ...basic(GUS), 'content-type': OCI_MANIFEST },
      body: generateImage().manifest,
    });
    assert.equal(manifest.status, 403);
    // a developer may not delete (maintainers and admins may)
    const del = await http('DELETE', registry.url, '/v2/team/app/manifests/v1', { headers: basic(ALICE) });
    assert.equal(del.status, 403);
    // a user with no membership is denied a private project's pull
    const carol = await http('GET', registry.url, '/v2/team/app/manifests/v1', { headers: basic(CAROL) });
    assert.equal(carol.status, 403);
  });

  it('lets an admin push into a new project, which is created private', async () => {
    const pushed = await pushImage(registry.url, 'fresh/app', generateImage(), 'v1', basic(ADMIN));
    assert.equal(pushed.status, 201);
    assert.deepEqual(await store.getProject('fresh').then((p) => p?.public), false);
    assert.equal(
      (await http('GET', registry.url, '/v2/fresh/app/manifests/v1', { headers: basic(ALICE) })).status,
      403,
    );
    // a non-admin cannot create one by pushing
    const denied = await http('POST', registry.url, '/v2/newproj/app/blobs/uploads/', {
      headers: basic(ALICE),
    });
    assert.equal(denied.status, 403);
  });

  it('lets a robot account push with its secret, by Basic and through a token, where it may', async () => {
    const robot = { user: 'robot$ci', password: robotSecret };
    const direct = await pushImage(registry.url, 'team/ci', generateImage(), 'build-1', basic(robot));
    assert.equal(direct.status, 201, direct.body.toString());
    const token = await fetchToken(registry.url, ['repository:team/ci:pull,push'], robot);
    assert.equal(jwtClaims(token).sub, 'robot$ci');
    const viaToken = await pushImage(registry.url, 'team/ci', generateImage(), 'build-2', bearer(token));
    assert.equal(viaToken.status, 201);
    const elsewhere = await http('POST', registry.url, '/v2/fresh/app/blobs/uploads/', {
      headers: basic(robot),
    });
    assert.equal(elsewhere.status, 403);
    const badSecret = await http('GET', registry.url, '/v2/', { headers: basicAuth('robot$ci', 'wrong') });
    assert.equal(badSecret.status, 401);
  });

  it('lists in _catalog only the repositories the caller may see', async () => {
    const list = async (headers: Record<string, string>) => {
      const response = await http('GET', registry.url, '/v2/_catalog', { headers });
      assert.equal(response.status, 200, response.body.toString());
      return (response.json() as { repositories: string[] }).repositories;
    };
    assert.deepEqual(await list(basic(ADMIN)), ['fresh/app', 'pub/app', 'team/app', 'team/ci']);
    assert.deepEqual(await list(basic(ALICE)), ['pub/app', 'team/app', 'team/ci']);
    assert.deepEqual(await list(basic(CAROL)), ['pub/app']);
    const anonymous = await fetchToken(registry.url, ['registry:catalog:*']);
    assert.deepEqual(await list(bearer(anonymous)), ['pub/app']);
    const paged = await http('GET', registry.url, '/v2/_catalog?n=1', { headers: basic(ALICE) });
    assert.deepEqual((paged.json() as { repositories: string[] }).repositories, ['pub/app']);
    assert.match(paged.header('link')!, /last=pub%2Fapp/);
    // a token without the catalog scope does not list
    const noCatalog = await fetchToken(registry.url, ['repository:pub/app:pull'], ALICE);
    assert.equal(
      (await http('GET', registry.url, '/v2/_catalog', { headers: bearer(noCatalog) })).status,
      401,
    );
  });

  it('enforces access on the referrers API', async () => {
    const subject = await http('HEAD', registry.url, '/v2/team/app/manifests/v1', { headers: basic(ADMIN) });
    const digest = subject.header('docker-content-digest')!;
    assert.equal((await http('GET', registry.url, `/v2/team/app/referrers/${digest}`)).status, 401);
    assert.equal(
      (await http('GET', registry.url, `/v2/team/app/referrers/${digest}`, { headers: basic(CAROL) })).status,
      403,
    );
    assert.equal(
      (await http('GET', registry.url, `/v2/team/app/referrers/${digest}`, { headers: basic(GUS) })).status,
      200,
    );
  });

  it('never mounts a blob from a repository the caller cannot read', async () => {
    const secret = randomBlob(2000);
    const digest = await pushBlob(registry.url, 'team/app', secret, 'sha256', basic(ADMIN));
    await accounts.createProject('carolsproj');
    await accounts.setMember('carolsproj', CAROL.user, 'developer');
    // without from: the blob exists, but only in a project carol cannot read: an upload session instead
    const blind = await http('POST', registry.url, `/v2/carolsproj/x/blobs/uploads/?mount=${digest}`, {
      headers: basic(CAROL),
    });
    assert.equal(blind.status, 202);
    // with from: the same
    const named = await http(
      'POST',
      registry.url,
      `/v2/carolsproj/x/blobs/uploads/?mount=${digest}&from=team/app`,
      {
        headers: basic(CAROL),
      },
    );
    assert.equal(named.status, 202);
    assert.equal(
      (await http('HEAD', registry.url, `/v2/carolsproj/x/blobs/${digest}`, { headers: basic(CAROL) }))
        .status,
      404,
    );
    // alice may read team/app: her mounts link
    const allowed = await http('POST', registry.url, `/v2/team/other/blobs/uploads/?mount=${digest}`, {
      headers: basic(ALICE),
    });
    assert.equal(allowed.status, 201);
  });

  it('POST /token: password and refresh_token grants; a new password voids refresh tokens', async () => {
    const form = (fields: Record<string, string>) => ({
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    const password = await http(
      'POST',
      registry.url,
      '/token',
      form({
        grant_type: 'password',
        username: ALICE.user,
        password: ALICE.password,
        service: 'wharf-registry',
        client_id: 'test',
        access_type: 'offline',
        scope: 'repository:team/app:pull repository:pub/app:pull',
      }),
    );
    assert.equal(password.status, 200, password.body.toString());
    const issued = password.json() as {
      access_token: string;
      refresh_token: string;
      scope: string;
      expires_in: number;
    };
    assert.equal(issued.scope, 'repository:team/app:pull repository:pub/app:pull');
    assert.ok(issued.expires_in > 0);
    const refreshed = await http(
      'POST',
      registry.url,
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: issued.refresh_token,
        service: 'wharf-registry',
        scope: 'repository:team/app:push',
      }),
    );
    assert.equal(refreshed.status, 200);
    assert.deepEqual(jwtClaims((refreshed.json() as { access_token: string }).access_token).access, [
      { type: 'repository', name: 'team/app', actions: ['push'] },
    ]);
    const wrong = await http(
      'POST',
      registry.url,
      '/token',
      form({ grant_type: 'password', username: 'alice', password: 'x' }),
    );
    assert.equal(wrong.status, 401);
    await accounts.setPassword(ALICE.user, 'alice-pw-2');
    const stale = await http(
      'POST',
      registry.url,
      '/token',
      form({ grant_type: 'refresh_token', refresh_token: issued.refresh_token, service: 'wharf-registry' }),
    );
    assert.equal(stale.status, 401);
    assert.equal((await http('GET', registry.url, '/v2/', { headers: basic(ALICE) })).status, 401);
    await accounts.setPassword(ALICE.user, ALICE.password);
    // GET with offline_token=true gives a refresh token too (docker login)
    const url = `/token?service=wharf-registry&offline_token=true&client_id=docker&account=${ALICE.user}`;
    const login = await http('GET', registry.url, url, { headers: basic(ALICE) });
    assert.ok((login.json() as { refresh_token?: string }).refresh_token);
  });

  it('authenticates users of the htpasswd file', async () => {
    assert.equal((await http('GET', registry.url, '/v2/', { headers: basic(CAROL) })).status, 200);
    assert.equal(
      (await http('GET', registry.url, '/v2/', { headers: basicAuth(CAROL.user, 'x') })).status,
      401,
    );
    const token = await fetchToken(registry.url, ['repository:pub/app:pull'], CAROL);
    assert.equal(jwtClaims(token).sub, 'carol');
  });

  it('keeps the admin API to registry admins', async () => {
    assert.equal((await http('GET', registry.url, '/api/v1/users')).status, 401);
    const denied = await http('GET', registry.url, '/api/v1/users', { headers: basic(ALICE) });
    assert.equal(denied.status, 403);
    const json = (body: unknown) => ({
      headers: { ...basic(ADMIN), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(
      (await http('POST', registry.url, '/api/v1/users', json({ name: 'dave', password: 'dave-pw' }))).status,
      201,
    );
    assert.equal(
      (await http('POST', registry.url, '/api/v1/users', json({ name: 'dave', password: 'x' }))).status,
      409,
    );
    assert.equal(
      (await http('POST', registry.url, '/api/v1/projects', json({ name: 'daves', public: false }))).status,
      201,
    );
    assert.equal(
      (
        await http(
          'POST',
          registry.url,
          '/api/v1/projects/daves/members',
          json({ user: 'dave', role: 'developer' }),
        )
      ).status,
      201,
    );
    const members = await http('GET', registry.url, '/api/v1/projects/daves/members', {
      headers: basic(ADMIN),
    });
    assert.deepEqual(members.json(), [{ project: 'daves', user: 'dave', role: 'developer' }]);
    assert.equal(
      (await pushImage(registry.url, 'daves/app', generateImage(), 'v1', basicAuth('dave', 'dave-pw')))
        .status,
      201,
    );
    const robot = await http(
      'POST',
      registry.url,
      '/api/v1/robots',
      json({ name: 'deploy', permissions: [{ project: 'daves', actions: ['pull'] }] }),
    );
    assert.equal(robot.status, 201);
    const created = robot.json() as { name: string; secret: string };
    assert.equal(created.name, 'robot$deploy');
    assert.equal(
      (
        await http('GET', registry.url, '/v2/daves/app/manifests/v1', {
          headers: basicAuth(created.name, created.secret),
        })
      ).status,
      200,
    );
    const conflict = await http('DELETE', registry.url, '/api/v1/projects/daves', { headers: basic(ADMIN) });
    assert.equal(conflict.status, 409, 'a project holding repositories stays');
    assert.equal(
      (await http('DELETE', registry.url, '/api/v1/robots/robot$deploy', { headers: basic(ADMIN) })).status,
      204,
    );
    assert.equal(
      (await http('DELETE', registry.url, '/api/v1/users/dave', { headers: basic(ADMIN) })).status,
      204,
    );
    assert.equal(
      (await http('GET', registry.url, '/v2/', { headers: basicAuth('dave', 'dave-pw') })).status,
      401,
    );
    const bad = await http('POST', registry.url, '/api/v1/projects', json({ name: 'Bad Name' }));
    assert.equal(bad.status, 400);
    const gc = await http('POST', registry.url, '/api/v1/gc', json({ grace: '1h', dryRun: true }));
    assert.equal(gc.status, 200);
    assert.equal((gc.json() as { dryRun: boolean }).dryRun, true);
    // an admin's bearer token works on the API too
    const token = await fetchToken(registry.url, [], ADMIN);
    assert.equal((await http('GET', registry.url, '/api/v1/gc', { headers: bearer(token) })).status, 200);
  });

  it("logs in and pulls with Wharf's own registry client through the token flow", async (t) => {
    let clientModule: typeof import('../../../src/distribution/registry-client.ts');
    try {
      clientModule = await import('../../../src/distribution/registry-client.ts');
    } catch {
      t.skip('src/distribution/registry-client.ts is not there yet');
      return;
    }
    const domain = new URL(registry.url).host;
    const client = new clientModule.RegistryClient({
      domain,
      credentials: async () => ({ username: ALICE.user, password: ALICE.password }),
    });
    try {
      await client.ping();
      assert.equal(client.authScheme, 'bearer');
      const descriptor = await client.resolve('team/app', 'v1');
      assert.match(descriptor.digest, /^sha256:/);
    } finally {
      await client.close();
    }
    const stranger = new clientModule.RegistryClient({
      domain,
      credentials: async () => ({ username: ALICE.user, password: 'wrong' }),
    });
    try {
      await assert.rejects(stranger.ping());
    } finally {
      await stranger.close();
    }
  });
});
