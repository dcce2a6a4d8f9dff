/**
 * `exec`: a command in a running container. The top-level `wharf exec` is a module of its own,
 * with a bundle of its own (dist/verbs/exec.cjs) holding its fast path only
 * (src/engine/exec-service.ts): no container service, lifecycle or hooks to read, deserialize and
 * initialise at each start. A container that does not plainly run (its record must be reconciled
 * first) is handed on to `container exec` (ContinueInGroup), which container.ts registers with
 * the full container service: the same flags, errors and exit codes either way.
 */
import type { Command } from 'commander';
import type { ExecHandle, ExecRequest } from '../../container/container-exec.ts';
import { ContainerStartError } from '../../container/start-errors.ts';
import { currentWharfCommand } from '../../engine/current-wharf-command.ts';
import { openExecService } from '../../engine/exec-service.ts';
import { CliExit, ContinueInGroup } from '../cli-error.ts';
import type { CliContext } from '../context.ts';
import { collect, parseEnvValue, readKeyValueFile } from './env-flags.ts';

/**
 * How an `exec` command gets its process: calls `use` with the handle of the exec of `request`
 * in `name`, while whatever it opened stays open.
 */
export type ExecRunner = (
  name: string,
  request: ExecRequest,
  use: (handle: ExecHandle) => Promise<void>,
) => Promise<void>;

export function register(program: Command, context: CliContext): void {
  addExec(program, fastExec(context));
}

/** The top-level `exec`'s runner: the exec service's fast path, else `container exec`. */
function fastExec(context: CliContext): ExecRunner {
  return async (name, request, use) => {
    const execs = openExecService(context.root(), { wharfCommand: currentWharfCommand() });
    try {
      const handle = await execs.tryExec(name, request);
      if (!handle) throw new ContinueInGroup('container');
      await use(handle);
    } finally {
      execs.close();
    }
  };
}

/** Registers `exec` under `parent`, getting its process through `runner`. */
export function addExec(parent: Command, runner: ExecRunner): void {
  parent
    .command('exec')
    .description('Execute a command in a running container')
    .argument('<container>', 'CONTAINER')
    .argument('<command...>', 'COMMAND [ARG...]')
    .passThroughOptions()
    .option('-d, --detach', 'detached mode: run command in the background')
    .option('--detach-keys <string>', 'override the key sequence for detaching a container')
    .option('-e, --env <list>', 'set environment variables', collect, [])
    .option('--env-file <file>', 'read in a file of environment variables', collect, [])
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('--privileged', 'give extended privileges to the command')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-u, --user <string>', 'username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('-w, --workdir <string>', 'working directory inside the container')
    .action(
      async (
        name: string,
        command: string[],
        options: {
          detach?: boolean;
          env: string[];
          envFile: string[];
          interactive?: boolean;
          privileged?: boolean;
          tty?: boolean;
          user?: string;
          workdir?: string;
        },
      ) => {
        const env: string[] = [];
        for (const file of options.envFile) env.push(...readKeyValueFile(file, true));
        for (const value of options.env) {
          const entry = parseEnvValue(value);
          if (entry !== undefined) env.push(entry);
        }
        const tty = options.tty === true;
        const request: ExecRequest = {
          cmd: command,
          env,
          ...(options.user ? { user: options.user } : {}),
          ...(options.workdir ? { workdir: options.workdir } : {}),
          tty,
          detach: options.detach === true,
          privileged: options.privileged === true,
          ...(tty && process.stdout.isTTY && process.stdout.rows
            ? { consoleSize: { height: process.stdout.rows, width: process.stdout.columns } }
            : {}),
          // The runtime's stdio is the process's: this process's own, passed straight through.
          stdio: [options.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
        };
        try {
          await runner(name, request, async (handle) => {
            if (options.detach) return;
            process.exitCode = await handle.exitCode;
          });
        } catch (error) {
          if (error instanceof ContainerStartError)
            throw new CliExit(error.exitCode, `Error: ${error.message}`);
          throw error;
        }
      },
    );
}
