/**
 * `wharf login [-u USER] [-p PASS | --password-stdin] [SERVER]` and `wharf logout [SERVER]`, as
 * Docker's: credentials are checked against the registry (`GET /v2/` with them) before they are
 * saved in Docker's config.json (`$DOCKER_CONFIG`, default ~/.docker), or in the credential helper
 * it names; the default server is Docker Hub.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors/index.ts';
import type { CliContext } from '../context.ts';
import { withTransfer } from './pull.ts';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Asks a question on the terminal; with `hidden`, what is typed is not echoed. */
async function prompt(question: string, hidden: boolean, context: CliContext): Promise<string> {
  const output = context.stderr as NodeJS.WriteStream;
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  if (hidden) {
    // print the question, then swallow the echo of every key typed
    const internal = rl as unknown as { _writeToOutput?: (text: string) => void };
    output.write(question);
    internal._writeToOutput = () => {};
  }
  try {
    return await new Promise<string>((resolve) => rl.question(hidden ? '' : question, resolve));
  } finally {
    rl.close();
    if (hidden) output.write('\n');
  }
}

async function domainOf(server: string | undefined): Promise<string> {
  const { domainOfKey } = await import('../../distribution/registry-endpoint.ts');
  return server ? domainOfKey(server) : 'docker.io';
}

function addLogin(parent: Command, context: CliContext): void {
  parent
    .command('login')
    .description('Authenticate to a registry (defaults to Docker Hub)')
    .argument('[server]', 'registry server, e.g. localhost:5000')
    .option('-u, --username <username>', 'Username')
    .option('-p, --password <password>', 'Password or Personal Access Token (PAT)')
    .option('--password-stdin', 'Take the Password or Personal Access Token (PAT) from stdin')
    .action(async (server: string | undefined, flags: LoginFlags) => {
      const domain = await domainOf(server);
      let password = flags.password;
      if (flags.passwordStdin) {
        if (flags.password !== undefined) {
          throw new InvalidArgumentError(
            'Cannot log in: --password and --password-stdin are mutually exclusive',
          );
        }
        if (!flags.username)
          throw new InvalidArgumentError('Cannot log in: must provide --username with --password-stdin');
        password = (await readStdin()).replace(/\r?\n$/, '');
      } else if (password !== undefined) {
        context.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      }
      let username = flags.username;
      const interactive = process.stdin.isTTY === true;
      if (!username || password === undefined) {
        if (!interactive) {
          throw new InvalidArgumentError('Cannot perform an interactive login from a non TTY device');
        }
        if (!username) username = (await prompt('Username: ', false, context)).trim();
        if (password === undefined) password = await prompt('Password: ', true, context);
      }
      if (!username) throw new InvalidArgumentError('Cannot log in: username is empty');
      if (!password) throw new InvalidArgumentError('Cannot log in: password is empty');
      const credentials = { username, password };
      await withTransfer(context, (transfer) => transfer.checkLogin(domain, credentials), { unpack: false });
      const { CredentialStore } = await import('../../distribution/credential-store.ts');
      const store = new CredentialStore();
      await store.store(domain, credentials);
      if (!(await store.usesHelper(domain))) {
        context.stderr.write(
          `WARNING! Your credentials are stored unencrypted in '${store.path}'.\nConfigure a credential helper to remove this warning.\n\n`,
        );
      }
      context.stdout.write('Login Succeeded\n');
    });
}

function addLogout(parent: Command, context: CliContext): void {
  parent
    .command('logout')
    .description('Log out from a registry (defaults to Docker Hub)')
    .argument('[server]', 'registry server')
    .action(async (server: string | undefined) => {
      const domain = await domainOf(server);
      const { CredentialStore } = await import('../../distribution/credential-store.ts');
      const { credentialKey } = await import('../../distribution/registry-endpoint.ts');
      const removed = await new CredentialStore().erase(domain);
      const key = credentialKey(domain);
      context.stdout.write(removed ? `Removing login credentials for ${key}\n` : `Not logged in to ${key}\n`);
    });
}

export function register(program: Command, context: CliContext): void {
  addLogin(program, context);
  addLogout(program, context);
}
