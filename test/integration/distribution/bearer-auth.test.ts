// The Bearer token flow against distribution's token auth: a token server made here (signing
// RS256 JWTs with a key whose self-signed certificate the registry trusts) hands out tokens for
// the scopes asked, to a user with the right password; the client gets one per scope set, reuses
// it, and fails with Docker's words when refused.
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpTransport } from '../../../src/distribution/http-transport.ts';
import { resolveImage } from '../../../src/distribution/image-resolver.ts';
import { RegistryAuthorizer, repositoryScope } from '../../../src/distribution/registry-authorizer.ts';
import { RegistryClient } from '../../../src/distribution/registry-client.ts';
import { parseDockerRef } from '../../../src/oci/reference.ts';
import {
  type DistributionRegistry,
  distributionUnavailable,
  freePort,
  makeTestImage,
  selfSignedCertificate,
  startDistribution,
} from './helpers.ts';

const SERVICE = 'wharf-test-registry';
const ISSUER = 'wharf-test-issuer';
const USER = { username: 'bob', password: 'token-pass' };

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

interface TokenServer {
  realm: string;
  /** Every token request: the scopes asked and whether the user was known. */
  requests: Array<{ scopes: string[]; user: string | undefined }>;
  close(): Promise<void>;
}

async function startTokenServer(keyPem: string, certPem: string): Promise<TokenServer> {
  const key = createPrivateKey(keyPem);
  const certDer = new X509Certificate(certPem).raw.toString('base64');
  const requests: TokenServer['requests'] = [];
  const port = await freePort();
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', `http://127.0.0.1:${port}`);
    const scopes = url.searchParams.getAll('scope');
    const header = request.headers.authorization ?? '';
    let user: string | undefined;
    if (header.startsWith('Basic ')) {
      const [name, password] = Buffer.from(header.slice(6), 'base64').toString().split(':');
      if (name !== USER.username || password !== USER.password) {
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }),
        );
        requests.push({ scopes, user: name });
        return;
      }
      user = name;
    }
    requests.push({ scopes, user });
    // the user gets what it asks; anonymous gets nothing
    const access = user
      ? scopes.map((scope) => {
          const [type, ...rest] = scope.split(':');
          const actions = rest.pop()!.split(',');
          return { type, name: rest.join(':'), actions };
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const head = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [certDer] }));
    const claims = base64url(
      JSON.stringify({
        iss: ISSUER,
        sub: user ?? '',
        aud: SERVICE,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    const signature = base64url(sign('sha256', Buffer.from(`${head}.${claims}`), key));
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        token: `${head}.${claims}.${signature}`,
        expires_in: 300,
        issued_at: new Date().toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('registry client with token (Bearer) auth', { skip: distributionUnavailable() }, () => {
  let dir: string;
  let tokens: TokenServer;
  let registry: DistributionRegistry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-bearer-'));
    const { keyPem, certPem } = await selfSignedCertificate(dir, '/CN=wharf-test-token');
    tokens = await startTokenServer(keyPem, certPem);
    registry = await startDistribution({
      token: { realm: tokens.realm, service: SERVICE, issuer: ISSUER, certificate: certPem },
    });
  });
  after(async () => {
    await registry?.stop();
    await tokens?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gets a token per scope set, reuses it, and pushes and pulls with it', async () => {
    const client = new RegistryClient({ domain: registry.domain, credentials: async () => USER });
    try {
      const image = await makeTestImage([20_000, 10_000]);
      for (const layer of image.layers) await client.pushBlob('team/app', layer.bytes);
      await client.pushBlob('team/app', image.config.bytes);
      await client.putManifest('team/app', 'v1', image.manifest.bytes, image.manifest.mediaType);
      assert.equal(client.authScheme, 'bearer');
      const pushTokens = tokens.requests.filter((r) => r.scopes.includes('repository:team/app:pull,push'));
      assert.equal(pushTokens.length, 1, 'one token for every push request');
      assert.equal(pushTokens[0]!.user, USER.username);

      const resolved = await resolveImage(client, parseDockerRef(`${registry.domain}/team/app:v1`));
      assert.equal(resolved.target.digest, image.manifest.digest);
      assert.equal(tokens.requests.filter((r) => r.scopes.includes('repository:team/app:pull')).length, 1);

      // a mount asks for both repositories in one token
      const mounted = await client.mountBlob('team/other', image.layers[0]!.digest, 'team/app');
      assert.deepEqual(mounted, { mounted: true });
      assert.ok(
        tokens.requests.some(
          (r) =>
            r.scopes.includes('repository:team/other:pull,push') &&
            r.scopes.includes('repository:team/app:pull'),
        ),
      );
    } finally {
      await client.close();
    }
  });

  it('sends again, with the token, requests that went out at once before the first challenge', async () => {
    const client = new RegistryClient({ domain: registry.domain, credentials: async () => USER });
    try {
      const image = await makeTestImage([12_000, 11_000, 10_000]);
      const pushed = await Promise.all(
        image.layers.map((layer) => client.pushBlob('team/burst', layer.bytes)),
      );
      assert.deepEqual(
        pushed.map((blob) => blob.digest),
        image.layers.map((layer) => layer.digest),
      );
      for (const layer of image.layers) {
        assert.equal(await client.statBlob('team/burst', layer.digest), layer.size);
      }
    } finally {
      await client.close();
    }
  });

  it('sends a request refused before its token came again with that token, but not one refused with it', async () => {
    const transport = new HttpTransport();
    const auth = new RegistryAuthorizer(transport, {
      domain: registry.domain,
      credentials: async () => USER,
    });
    try {
      const refused = await transport.send({
        method: 'GET',
        url: `http://${registry.domain}/v2/team/late/tags/list`,
      });
      await refused.dump();
      assert.equal(refused.status, 401);
      const header = refused.headers['www-authenticate'];
      const scopes = [repositoryScope('team/late', ['pull'])];
      assert.equal(await auth.challenge(header, scopes), true, 'the first challenge gets a token');
      const asked = tokens.requests.length;
      const token = await auth.authorization(scopes);
      assert.ok(token?.startsWith('Bearer '));
      assert.equal(
        await auth.challenge(header, scopes, undefined, undefined),
        true,
        'sent without it: again',
      );
      assert.equal(tokens.requests.length, asked, 'with the token already there, no new one is asked for');
      assert.equal(await auth.challenge(header, scopes, undefined, token), false, 'the token itself refused');
    } finally {
      await transport.close();
    }
  });

  it('is refused anonymously and with a wrong password, in Docker words', async () => {
    const anonymous = new RegistryClient({ domain: registry.domain });
    try {
      await assert.rejects(
        resolveImage(anonymous, parseDockerRef(`${registry.domain}/team/app:v1`)),
        (error: Error) => {
          assert.equal(error.name, 'PermissionDeniedError');
          assert.match(error.message, /unauthorized: authentication required/);
          return true;
        },
      );
    } finally {
      await anonymous.close();
    }
    const wrong = new RegistryClient({
      domain: registry.domain,
      credentials: async () => ({ username: USER.username, password: 'nope' }),
    });
    try {
      await assert.rejects(wrong.resolve('team/app', 'v1'), (error: Error) => {
        assert.equal(error.name, 'PermissionDeniedError');
        assert.match(error.message, /incorrect username or password/);
        return true;
      });
    } finally {
      await wrong.close();
    }
  });
});
