/**
 * Docker's credential helper protocol: `docker-credential-NAME get|store|erase`, one request on
 * stdin, one answer on stdout. `get` reads a server URL and prints
 * `{"ServerURL","Username","Secret"}` (Username `<token>` means Secret is an identity token);
 * `store` reads that JSON; `erase` reads a server URL. "credentials not found" on `get` means
 * there are none.
 *
 * @example
 * const helper = new CredentialHelper('pass');
 * const creds = await helper.get('localhost:5000'); // undefined when none are stored
 */
import { spawn } from 'node:child_process';
import { InvalidArgumentError, isErrno, NotFoundError, UnavailableError } from '../errors/index.ts';

export interface HelperCredentials {
  serverUrl: string;
  username: string;
  secret: string;
}

/** The username a helper stores for identity tokens, as Docker does. */
export const IDENTITY_TOKEN_USERNAME = '<token>';

const NOT_FOUND = /credentials not found/i;

export class CredentialHelper {
  readonly #program: string;

  constructor(name: string) {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) {
      throw new InvalidArgumentError(`Cannot use credential helper "${name}": invalid name`);
    }
    this.#program = `docker-credential-${name}`;
  }

  get program(): string {
    return this.#program;
  }

  async get(serverUrl: string): Promise<HelperCredentials | undefined> {
    const result = await this.#run('get', serverUrl);
    if (result.code !== 0) {
      if (NOT_FOUND.test(result.stdout) || NOT_FOUND.test(result.stderr)) return undefined;
      throw this.#failure('get', result);
    }
    let parsed: { ServerURL?: unknown; Username?: unknown; Secret?: unknown };
    try {
      parsed = JSON.parse(result.stdout) as typeof parsed;
    } catch (error) {
      throw new UnavailableError(`Cannot read credentials from ${this.#program}: invalid JSON answer`, {
        cause: error,
      });
    }
    if (typeof parsed.Secret !== 'string' || parsed.Secret === '') return undefined;
    return {
      serverUrl: typeof parsed.ServerURL === 'string' ? parsed.ServerURL : serverUrl,
      username: typeof parsed.Username === 'string' ? parsed.Username : '',
      secret: parsed.Secret,
    };
  }

  async store(credentials: HelperCredentials): Promise<void> {
    const input = JSON.stringify({
      ServerURL: credentials.serverUrl,
      Username: credentials.username,
      Secret: credentials.secret,
    });
    const result = await this.#run('store', input);
    if (result.code !== 0) throw this.#failure('store', result);
  }

  async erase(serverUrl: string): Promise<void> {
    const result = await this.#run('erase', serverUrl);
    if (result.code !== 0 && !NOT_FOUND.test(result.stdout + result.stderr))
      throw this.#failure('erase', result);
  }

  #failure(
    action: string,
    result: { code: number | null; stdout: string; stderr: string },
  ): UnavailableError {
    const text = (result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`).split('\n')[0];
    return new UnavailableError(`Cannot ${action} credentials with ${this.#program}: ${text}`);
  }

  #run(action: string, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.#program, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.on('error', (error) => {
        if (isErrno(error, 'ENOENT')) {
          reject(new NotFoundError(`Cannot run ${this.#program}: not found in PATH`, { cause: error }));
        } else reject(error);
      });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      // EPIPE when the helper exits without reading: its exit status tells the story
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    });
  }
}
