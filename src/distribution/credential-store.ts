/**
 * Registry credentials in Docker's `config.json`, so `wharf login` and `docker login` share them.
 * The file lives in `$DOCKER_CONFIG` (default `~/.docker`) and is rewritten atomically, mode 0600,
 * keeping every field Wharf does not know:
 *
 *   {
 *     "auths": {
 *       "localhost:5000": { "auth": "<base64 of user:password>" },
 *       "https://index.docker.io/v1/": { "identitytoken": "…" },
 *       "registry.example": {}                    <- credentials kept by a helper
 *     },
 *     "credsStore": "pass",                       <- docker-credential-pass for every registry
 *     "credHelpers": { "registry.example": "ecr" } <- or per registry
 *   }
 *
 * @example
 * const store = new CredentialStore();
 * await store.store('localhost:5000', { username: 'u', password: 'p' });
 * (await store.get('localhost:5000'))?.username; // 'u'
 */
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FailedPreconditionError, isErrno } from '../errors/index.ts';
import { atomicWriteFile } from '../util/atomic-write.ts';
import { CredentialHelper, IDENTITY_TOKEN_USERNAME } from './credential-helper.ts';
import { credentialKey, domainOfKey } from './registry-endpoint.ts';

export interface RegistryCredentials {
  username: string;
  password: string;
  /** An OAuth refresh token given by a token server (Docker's `identitytoken`). */
  identityToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  [key: string]: unknown;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** `$DOCKER_CONFIG`, else `~/.docker`. */
export function defaultDockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
}

export class CredentialStore {
  readonly #dir: string;

  constructor(dir: string = defaultDockerConfigDir()) {
    this.#dir = dir;
  }

  /** The config.json this store reads and writes. */
  get path(): string {
    return join(this.#dir, 'config.json');
  }

  /** The credentials for a registry (`docker.io`, `localhost:5000`), or undefined. */
  async get(domain: string): Promise<RegistryCredentials | undefined> {
    const config = await this.#read();
    const key = credentialKey(domain);
    const helper = this.#helperFor(config, domain);
    if (helper) {
      const found = await helper.get(key);
      if (!found) return undefined;
      return found.username === IDENTITY_TOKEN_USERNAME
        ? { username: '', password: '', identityToken: found.secret }
        : { username: found.username, password: found.secret };
    }
    const entry = findEntry(config, domain);
    return entry ? decodeEntry(entry) : undefined;
  }

  /** Saves credentials (in the configured helper, else base64 in config.json). */
  async store(domain: string, credentials: RegistryCredentials): Promise<void> {
    const config = await this.#read();
    const key = credentialKey(domain);
    const helper = this.#helperFor(config, domain);
    const auths = (config.auths ??= {});
    // replace any other spelling of the same registry (`http://host/v2/` vs `host`)
    for (const existing of Object.keys(auths)) {
      if (existing !== key && domainOfKey(existing) === domainOfKey(key)) delete auths[existing];
    }
    if (helper) {
      await helper.store({
        serverUrl: key,
        username: credentials.identityToken ? IDENTITY_TOKEN_USERNAME : credentials.username,
        secret: credentials.identityToken ?? credentials.password,
      });
      auths[key] = {};
    } else {
      const entry: AuthEntry = {
        auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'),
      };
      if (credentials.identityToken) entry.identitytoken = credentials.identityToken;
      auths[key] = entry;
    }
    await this.#write(config);
  }

  /** Forgets a registry's credentials; false when there were none. */
  async erase(domain: string): Promise<boolean> {
    const config = await this.#read();
    const key = credentialKey(domain);
    const helper = this.#helperFor(config, domain);
    let removed = false;
    if (helper) {
      removed = (await helper.get(key)) !== undefined;
      await helper.erase(key);
    }
    const auths = config.auths ?? {};
    for (const existing of Object.keys(auths)) {
      if (domainOfKey(existing) === domainOfKey(key)) {
        delete auths[existing];
        removed = true;
      }
    }
    if (removed) await this.#write(config);
    return removed;
  }

  /** True when a credential helper (credsStore or credHelpers) keeps this registry's credentials. */
  async usesHelper(domain: string): Promise<boolean> {
    return this.#helperFor(await this.#read(), domain) !== undefined;
  }

  #helperFor(config: ConfigFile, domain: string): CredentialHelper | undefined {
    const key = credentialKey(domain);
    const helpers = config.credHelpers ?? {};
    const name =
      helpers[key] ??
      helpers[domain] ??
      Object.entries(helpers).find(([entry]) => domainOfKey(entry) === domainOfKey(key))?.[1] ??
      config.credsStore;
    return name ? new CredentialHelper(name) : undefined;
  }

  async #read(): Promise<ConfigFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return {};
      throw error;
    }
    if (text.trim() === '') return {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      return parsed as ConfigFile;
    } catch (error) {
      throw new FailedPreconditionError(`Cannot read ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async #write(config: ConfigFile): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await atomicWriteFile(this.path, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
  }
}

function findEntry(config: ConfigFile, domain: string): AuthEntry | undefined {
  const auths = config.auths ?? {};
  const key = credentialKey(domain);
  if (auths[key]) return auths[key];
  const wanted = domainOfKey(key);
  for (const [entryKey, entry] of Object.entries(auths)) {
    if (domainOfKey(entryKey) === wanted) return entry;
  }
  return undefined;
}

function decodeEntry(entry: AuthEntry): RegistryCredentials | undefined {
  let username = entry.username ?? '';
  let password = entry.password ?? '';
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  const out: RegistryCredentials = { username, password };
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '')
    out.identityToken = entry.identitytoken;
  if (!out.username && !out.password && !out.identityToken) return undefined;
  return out;
}
