/**
 * Registry credentials as clients send them: `X-Registry-Auth` on pull and push (base64url of
 * a JSON AuthConfig; the docker CLI sends `e30=`, `{}`, when it has none), `X-Registry-Config`
 * on build (a map of registry -> AuthConfig), and the JSON body of `POST /auth`.
 *
 * @example
 * decodeRegistryAuth('eyJ1c2VybmFtZSI6ImEifQ=='); // { username: 'a' }
 */
import { InvalidArgumentError } from '../errors/index.ts';

export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64 of `username:password`, as config.json stores it. */
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

const FIELDS = [
  'username',
  'password',
  'auth',
  'email',
  'serveraddress',
  'identitytoken',
  'registrytoken',
] as const;

/** An AuthConfig from parsed JSON: known string fields only, empty ones dropped. */
export function registryAuthFromJson(value: unknown): RegistryAuth | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const auth: RegistryAuth = {};
  for (const field of FIELDS) {
    // docker sends the capitalized Go names in some bodies (`Username`), the lower-case JSON tags in others
    const raw = record[field] ?? record[field[0]!.toUpperCase() + field.slice(1)];
    if (typeof raw === 'string' && raw !== '') auth[field] = raw;
  }
  if (auth.auth && !auth.username) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      auth.username = decoded.slice(0, colon);
      auth.password = decoded.slice(colon + 1);
    }
  }
  return Object.keys(auth).length > 0 ? auth : undefined;
}

function decodeBase64Json(header: string, name: string): unknown {
  const normalized = header.trim().replace(/-/g, '+').replace(/_/g, '/');
  try {
    return JSON.parse(Buffer.from(normalized, 'base64').toString('utf8'));
  } catch (error) {
    throw new InvalidArgumentError(`Cannot read the ${name} header: not base64-encoded JSON`, {
      cause: error,
    });
  }
}

/** `X-Registry-Auth`: undefined when absent or empty. */
export function decodeRegistryAuth(header: string | string[] | undefined): RegistryAuth | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || value.trim() === '') return undefined;
  return registryAuthFromJson(decodeBase64Json(value, 'X-Registry-Auth'));
}

/** `X-Registry-Config`: registry host -> credentials. */
export function decodeRegistryConfig(header: string | string[] | undefined): Record<string, RegistryAuth> {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || value.trim() === '') return {};
  const parsed = decodeBase64Json(value, 'X-Registry-Config');
  const out: Record<string, RegistryAuth> = {};
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const [registry, entry] of Object.entries(parsed as Record<string, unknown>)) {
    const auth = registryAuthFromJson(entry);
    if (auth) out[registry] = auth;
  }
  return out;
}
