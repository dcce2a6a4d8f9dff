/**
 * node:crypto, loaded at its first use. Requiring it costs 2-3 ms here (most of Node's crypto
 * layer, then OpenSSL's digests at the first hash), and a command pays that at start-up as soon
 * as any module on its path imports it, even one it never calls: `run --rm` loaded it for two
 * random names and nothing else. Modules that hash only on some paths (content digests, network
 * names) take it from here; random names come from util/random-hex.ts.
 *
 * @example
 * const hex = nodeCrypto().createHash('sha256').update(data).digest('hex');
 */
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';

let loaded: typeof Crypto | undefined;

export function nodeCrypto(): typeof Crypto {
  loaded ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  return loaded;
}
