/**
 * Signs and verifies the registry's JSON Web Tokens (ES256, JWS compact form) with a P-256 key
 * made at the first start and kept in the storage directory (`token-key.pem`, mode 0600), so
 * tokens stay valid across restarts. The key id is libtrust's form (distribution's token auth
 * names keys that way): the SHA-256 of the DER public key, first 240 bits, base32, in 4-character
 * groups joined by colons.
 *
 * @example
 * const signer = await TokenSigner.open('/var/lib/wharf/registry/token-key.pem');
 * const jwt = signer.sign({ sub: 'alice', exp: now + 300 });
 * signer.verify(jwt); // { sub: 'alice', exp: ... } or undefined
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isErrno } from '../../errors/index.ts';
import { atomicWriteFile } from '../../util/atomic-write.ts';

export class TokenSigner {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly keyId: string;
  readonly #header: string;

  private constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
    this.#publicKey = createPublicKey(privateKey);
    this.keyId = libtrustKeyId(this.#publicKey);
    this.#header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', kid: this.keyId }));
  }

  /** Loads the key at `path`, generating it on first use. */
  static async open(path: string): Promise<TokenSigner> {
    try {
      return new TokenSigner(createPrivateKey(await readFile(path, 'utf8')));
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await atomicWriteFile(path, pem, { mode: 0o600 });
    return new TokenSigner(privateKey);
  }

  /** The public key, for whoever wants to verify tokens elsewhere. */
  publicKeyPem(): string {
    return this.#publicKey.export({ type: 'spki', format: 'pem' }) as string;
  }

  sign(claims: Record<string, unknown>): string {
    const input = `${this.#header}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: this.#privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${signature.toString('base64url')}`;
  }

  /** The claims of a token this key signed, or undefined (malformed, other key, other algorithm). */
  verify(token: string): Record<string, unknown> | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    try {
      const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown };
      if (head.alg !== 'ES256') return undefined;
      const ok = verify(
        'sha256',
        Buffer.from(`${header}.${payload}`),
        { key: this.#publicKey, dsaEncoding: 'ieee-p1363' },
        Buffer.from(signature, 'base64url'),
      );
      if (!ok) return undefined;
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
      return claims !== null && typeof claims === 'object' && !Array.isArray(claims)
        ? (claims as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}
