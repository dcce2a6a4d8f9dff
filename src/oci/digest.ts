/**
 * Content digests (`algorithm:encoded`) as the OCI image spec defines them. Pure: hashing
 * state objects come from node:crypto, which does no I/O.
 *
 * @example
 * const d = parseDigest('sha256:' + 'a'.repeat(64)); // { algorithm: 'sha256', encoded: 'aaa…' }
 */
import type { Hash } from 'node:crypto';
import { InvalidArgumentError } from '../errors/index.ts';
import { nodeCrypto } from '../util/node-crypto.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';
/** A validated digest string such as `sha256:…`. */
export type Digest = `${DigestAlgorithm}:${string}`;

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// The spec's grammar: algorithm-component ([a-z0-9]+) separated by [+._-], then ':' and [a-zA-Z0-9=_-]+.
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  encoded: string;
}

/** True when `value` matches the spec's digest grammar (any algorithm). */
export function isDigestSyntax(value: string): boolean {
  return DIGEST_GRAMMAR.test(value);
}

/** Parses and validates a digest of a supported algorithm; throws InvalidArgumentError with the reason. */
export function parseDigest(value: string): ParsedDigest {
  if (!DIGEST_GRAMMAR.test(value))
    throw new InvalidArgumentError(`Cannot parse digest "${value}": invalid format`);
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new InvalidArgumentError(`Cannot parse digest "${value}": unsupported algorithm "${algorithm}"`);
  }
  if (encoded.length !== ENCODED_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(encoded)) {
    throw new InvalidArgumentError(
      `Cannot parse digest "${value}": ${algorithm} needs ${ENCODED_LENGTH[algorithm]} lowercase hex characters`,
    );
  }
  return { algorithm, encoded };
}

/** Returns `value` typed as a Digest after validating it. */
export function toDigest(value: string): Digest {
  parseDigest(value);
  return value as Digest;
}

export function isDigest(value: string): value is Digest {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

/** A hasher for the algorithm; feed it with `update`, then `digestOf(hasher, algorithm)`. */
export function createDigester(algorithm: DigestAlgorithm = 'sha256'): Hash {
  return nodeCrypto().createHash(algorithm);
}

/** The digest of an in-memory buffer or string. */
export function digestBytes(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${nodeCrypto().createHash(algorithm).update(data).digest('hex')}`;
}

/** The hex part of a digest (`sha256:abc` -> `abc`). */
export function encodedOf(digest: Digest | string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest : digest.slice(colon + 1);
}

export function algorithmOf(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

/**
 * True when `data` hashes to `expected` (with `expected`'s algorithm).
 *
 * @example
 * verifyBytes(Buffer.from('{}'), 'sha256:44136fa…'); // true
 */
export function verifyBytes(data: Uint8Array | string, expected: Digest): boolean {
  return digestBytes(data, algorithmOf(expected)) === expected;
}
