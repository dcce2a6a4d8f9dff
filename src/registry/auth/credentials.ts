/**
 * Passwords and secrets: bcrypt for people's passwords (the form htpasswd files use, so users
 * move between the two), sha256 for robot secrets (256 random bits: a slow hash protects nothing
 * there). bcrypt costs ~100 ms per check by design, so a registry that takes Basic credentials on
 * every request remembers, for a few minutes, which (user, password) pairs it has already checked
 * against which hash; a changed hash (passwd) invalidates it at once.
 *
 * @example
 * const hash = await hashPassword('s3cret');
 * await verifier.verify('alice', 's3cret', hash); // true
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { InvalidArgumentError } from '../../errors/index.ts';
import { ROBOT_PREFIX } from './access-store.ts';

const BCRYPT_COST = 10;
const CACHE_TTL_MS = 5 * 60 * 1000;
const CACHE_ENTRIES = 2000;

export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0) throw new InvalidArgumentError('Cannot set a password: it is empty');
  return bcrypt.hash(password, BCRYPT_COST);
}

export function isBcryptHash(hash: string): boolean {
  return /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash);
}

/** A new robot secret (43 characters of base64url) and the hash the store keeps. */
export function newRobotSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: sha256Hex(secret) };
}

export function robotSecretMatches(secret: string, hash: string): boolean {
  const actual = Buffer.from(sha256Hex(secret), 'hex');
  const expected = Buffer.from(hash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A short fingerprint of a stored hash: refresh tokens carry it, so a new password voids them. */
export function credentialVersion(hash: string): string {
  return sha256Hex(hash).slice(0, 16);
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** User names: what Basic auth can carry (no colon) and what cannot be mistaken for a robot. */
export function checkUserName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$/.test(name)) {
    throw new InvalidArgumentError(
      `Cannot use user name "${name}": use letters, digits, '.', '_', '@' and '-' (starting with a letter or digit)`,
    );
  }
  return name;
}

/** Robot names (without `robot$`): lowercase, like project names, so `robot$ci-main` reads well. */
export function checkRobotName(name: string): string {
  const bare = name.startsWith(ROBOT_PREFIX) ? name.slice(ROBOT_PREFIX.length) : name;
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(bare) || bare.length > 200) {
    throw new InvalidArgumentError(
      `Cannot use robot name "${name}": use lowercase letters and digits separated by '.', '_' or '-'`,
    );
  }
  return bare;
}

/** Checks bcrypt passwords, remembering recent successes (see the file comment). */
export class PasswordVerifier {
  readonly #cache = new Map<string, { hash: string; proof: string; until: number }>();

  async verify(user: string, password: string, hash: string): Promise<boolean> {
    const proof = sha256Hex(`${user}\0${password}`);
    const cached = this.#cache.get(user);
    const now = Date.now();
    if (cached && cached.hash === hash && cached.until > now && cached.proof === proof) return true;
    let ok = false;
    try {
      ok = await bcrypt.compare(password, hash);
    } catch {
      ok = false; // not a bcrypt hash
    }
    if (ok) {
      if (this.#cache.size >= CACHE_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(user, { hash, proof, until: now + CACHE_TTL_MS });
    }
    return ok;
  }
}
