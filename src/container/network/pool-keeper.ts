/**
 * The process that does the namespace pool's kernel work (netns-pool.ts) for one store root, so
 * that no `wharf` process forks for it: a `bash` loop reading commands from a FIFO, each command
 * one line that a `wharf` process writes with a single non-blocking write (a few µs, where a fork
 * of the Node process costs 2-3 ms of its main thread here, twice per `run`: the spare that
 * replaces the one a container took, and the deletion of the container's namespace).
 *
 *   /run/wharf/TAG/netns-pool/keeper.fifo   the commands (mode 0600, in a 0700 directory)
 *   /run/wharf/TAG/netns-pool/keeper.pid    the pid of the keeper reading it ('' while it exits)
 *   /run/wharf/TAG/netns-pool/keeper.lock   flock(1)ed by the keeper for its whole life
 *   /run/wharf/TAG/netns-pool/NETNS.ready   a spare is made (NETNS.failed: making it failed)
 *
 * Commands, one line each, fields separated by tabs, the lines of an `ip -batch` joined by `;`:
 *
 *   make  NETNS  HOST-BATCH  NAMESPACE-BATCH   ip -b on the host, ip -n NETNS -b inside, then
 *                                              NETNS.ready (or NETNS.failed)
 *   del   NETNS  BATCH                         ip -force -b on the host
 *   quit                                       exit once the commands before it are done
 *
 * Life of the keeper: started by the first `send` that finds none (with its commands as
 * arguments, so nothing waits for it to open the FIFO); it takes the lock, opens the FIFO read
 * and write (so it never sees an end of file), writes its pid, and runs commands in order until
 * it has had none for KEEPER_IDLE_SECONDS, then clears its pid, runs what is still in the FIFO
 * for a moment (a writer that read the pid just before) and exits. A second process started
 * meanwhile finds the lock taken and runs only its own commands, as a one-shot helper. Whatever
 * is lost (a keeper killed with commands queued, a write racing the exit) is found by the pool's
 * reap from its rows, each of which names the process that was given its work: a spare whose
 * process died without `.ready` is given up, a namespace still there is deleted again.
 *
 * @example
 * const keeper = new PoolKeeper('/run/wharf/1a2b3c4d/netns-pool');
 * const pid = keeper.send([makeCommand(netns, batches)]);   // the process doing it
 * await keeper.stop();                                      // destroyAll: no process left
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../errors/index.ts';
import { isProcessAlive } from '../../util/process-alive.ts';
import { hostTool } from './host-exec.ts';

/** A keeper with no command for this long exits; the next `send` starts another. */
export const KEEPER_IDLE_SECONDS = 30;

/**
 * The keeper (bash: `read -t` and here-strings, which need no temporary file; dash has
 * neither). $1 ip, $2 the pool directory, $3 flock, $4 mkfifo, $5 idle seconds, then commands.
 */
const KEEPER_SCRIPT = `ip=$1 dir=$2 flock=$3 mkfifo=$4 idle=$5
shift 5
run() {
  case $1 in
  make)
    if "$ip" -b - <<<"\${3//;/$'\\n'}" && "$ip" -n "$2" -b - <<<"\${4//;/$'\\n'}"; then
      : >"$dir/$2.ready"
    else
      : >"$dir/$2.failed"
    fi ;;
  del) "$ip" -force -b - <<<"\${3//;/$'\\n'}" ;;
  quit) return 1 ;;
  esac
  return 0
}
keeper=0
exec 4>>"$dir/keeper.lock"
if "$flock" -n 4 && { [ -p "$dir/keeper.fifo" ] || "$mkfifo" -m 600 "$dir/keeper.fifo"; } && exec 3<>"$dir/keeper.fifo"; then
  keeper=1
  echo $$ >"$dir/keeper.pid"
else
  exec 4>&-
fi
for line; do
  IFS=$'\\t' read -r op name a b <<<"$line"
  run "$op" "$name" "$a" "$b" || { [ $keeper = 1 ] && keeper=2; }
done
[ $keeper = 0 ] && exit 0
if [ $keeper = 1 ]; then
  while IFS=$'\\t' read -r -t "$idle" op name a b <&3 && run "$op" "$name" "$a" "$b"; do :; done
fi
: >"$dir/keeper.pid"
while IFS=$'\\t' read -r -t 0.2 op name a b <&3; do run "$op" "$name" "$a" "$b"; done
`;

const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * The `make` command: `batches` as spareBatches returns them.
 *
 * @example
 * keeper.send([makeCommand('wharf-1a2b3c4d-0123456789ab', spareBatches(spare, network))]);
 */
export function makeCommand(netns: string, batches: { host: string; inside: string }): string {
  return commandLine(['make', netns, batchField(batches.host), batchField(batches.inside)]);
}

/**
 * The `del` command for `ip -force -batch` lines.
 *
 * @example
 * keeper.send([deleteCommand(netns, `link del ${hostVeth}\nnetns del ${netns}\n`)]);
 */
export function deleteCommand(netns: string, batch: string): string {
  return commandLine(['del', netns, batchField(batch)]);
}

function batchField(batch: string): string {
  const lines = batch.split('\n').filter(Boolean);
  if (lines.some((line) => /[;\t]/.test(line))) {
    throw new InvalidArgumentError(`Cannot pass an ip batch to the pool keeper: a line holds ";" or a tab`);
  }
  return lines.join(';');
}

function commandLine(fields: string[]): string {
  if (!NAME.test(fields[1] ?? '')) {
    throw new InvalidArgumentError(`Cannot name namespace "${fields[1]}" to the pool keeper`);
  }
  const line = fields.join('\t');
  // a write of at most PIPE_BUF bytes to a FIFO is atomic: lines of two writers never mix
  if (Buffer.byteLength(line) >= 4096)
    throw new InvalidArgumentError('Cannot send a command of 4 KiB or more to the pool keeper');
  return line;
}

export class PoolKeeper {
  readonly #dir: string;
  readonly #idleSeconds: number;

  constructor(dir: string, options: { idleSeconds?: number } = {}) {
    this.#dir = dir;
    this.#idleSeconds = options.idleSeconds ?? KEEPER_IDLE_SECONDS;
  }

  /** The running keeper's pid, or 0 (none, or exiting). */
  pid(): number {
    let pid = 0;
    try {
      pid = Number.parseInt(readFileSync(join(this.#dir, 'keeper.pid'), 'latin1'), 10);
    } catch {
      return 0;
    }
    return Number.isInteger(pid) && pid > 0 && isProcessAlive(pid) ? pid : 0;
  }

  /**
   * Hands `lines` to the keeper and returns the pid of the process that runs them: the keeper's,
   * or a new process's (a new keeper, or a one-shot helper while another keeper holds the lock).
   * 0 when no process could be started. Never throws.
   */
  send(lines: readonly string[]): number {
    if (lines.length === 0) return 0;
    const pid = this.pid();
    if (pid > 0) {
      let sent = 0;
      try {
        // ENXIO when no reader has the FIFO open (the keeper died), EAGAIN when it is full
        const fd = openSync(join(this.#dir, 'keeper.fifo'), constants.O_WRONLY | constants.O_NONBLOCK);
        try {
          for (const line of lines) {
            writeSync(fd, `${line}\n`);
            sent++;
          }
        } finally {
          closeSync(fd);
        }
        return pid;
      } catch {
        // the lines not written go to a process of their own
        lines = lines.slice(sent);
      }
    }
    return this.#start(lines);
  }

  #start(lines: readonly string[]): number {
    try {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      const child = spawn(
        hostTool('bash'),
        [
          '-c',
          KEEPER_SCRIPT,
          'wharf-netns-pool',
          hostTool('ip'),
          this.#dir,
          hostTool('flock'),
          hostTool('mkfifo'),
          String(this.#idleSeconds),
          ...lines,
        ],
        // its own session, no terminal, no directory of the caller kept busy; it outlives us
        {
          detached: true,
          stdio: 'ignore',
          cwd: '/',
          env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
        },
      );
      child.on('error', () => {
        // no process: the rows keep pid 0 and the reap gives them up after their timeout
      });
      child.unref();
      // at the default priority: niced, it was measured to lose to a loaded machine's other
      // work, and the next attach then waits for its spare
      return child.pid ?? 0;
    } catch {
      return 0;
    }
  }

  /**
   * Stops the keeper once the commands already sent are done (waits up to `ms`, then kills it):
   * `destroyAll` and the sweep of a deleted root leave no process behind.
   */
  async stop(ms = 10_000): Promise<void> {
    const pid = this.pid();
    if (pid === 0) return;
    try {
      const fd = openSync(join(this.#dir, 'keeper.fifo'), constants.O_WRONLY | constants.O_NONBLOCK);
      try {
        writeSync(fd, 'quit\n');
      } finally {
        closeSync(fd);
      }
    } catch {
      // not reading any more: it is exiting
    }
    const deadline = Date.now() + ms;
    while (isProcessAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (isProcessAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}
