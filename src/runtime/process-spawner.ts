/**
 * Starting processes from a long-lived process without forking it: a small helper (perl, part of
 * every Debian system: perl-base is Essential) forks and execs on its behalf and relays the
 * children's pipes, their pids and their exits over its stdin and stdout.
 *
 * Why it exists: Node's spawn forks the whole Node process and blocks its thread until the child
 * has exec'd. The fork copies the page tables of Node's memory and the parent then takes a
 * copy-on-write fault on every page it writes: 2.5 ms for a 77 MB process here, 4-5 ms traced in
 * the daemon (70 MB) at each `mount`, conmon and `umount` of a run, three times on the path of
 * `docker run --rm`, against 0.2 ms for the helper's fork, on the other core, while the daemon
 * goes on. The daemon uses it (src/daemon/container-backends.ts wires it); a CLI process, which
 * runs one container and ends, keeps Node's spawn (starting the helper would cost more).
 *
 * What a child gets is what Node's spawn gives: the given argv (argv[0] the file), environment,
 * working directory, a new session when `detached`, every signal at its default and none blocked,
 * and for each of its fds 0..N either /dev/null (`ignore`) or one end of a socketpair whose other
 * end is relayed (`pipe`, a Duplex here: read what the child writes, write what it reads, `end()`
 * shuts down the child's input). No other fd leaks in (perl opens everything close-on-exec). The
 * child is the helper's, which reaps it and reports its exit; `'spawn'` or `'error'` (the exec's
 * errno, as Node's: `spawn FILE ENOENT`) comes first, `'exit'` when it ends, `'close'` once it has
 * ended and its pipes have too.
 *
 * Protocol (both ways: a 4-byte big-endian length, then fields separated by NUL, bytes last):
 *
 *   to the helper    spawn TAG CWD DETACHED FILE NARGS ARG... NENV K=V... FDS   FDS: `n`/`p` per fd
 *                    write TAG FD BYTES | end TAG FD | close TAG FD | kill TAG SIGNO
 *   from the helper  spawned TAG PID | failed TAG ERRNO MESSAGE | data TAG FD BYTES | eof TAG FD
 *                    exit TAG CODE SIGNO   (CODE empty when killed by signal SIGNO, SIGNO else)
 *
 * Builtins (see `builtins`): a FILE of `:mount`, `:umount` or `:rmdir` is not run but done by the
 * helper itself, a system call or a few, and reported as a child that ran (pid 0): no tool to
 * exec and load, no fork, and two process wake-ups instead of four (each costs 0.3-0.7 ms on
 * this machine's virtual CPUs: a request and its answer take 0.2 ms back to back, 0.9 ms after
 * an idle spell). The helper does one thing at a time: a mount (1-6 ms) holds the next request.
 *
 * If the helper dies, the children it started go on, unreported: their pipes end, and one not yet
 * spawned fails; the next spawn starts a new helper. When the process holding the spawner ends,
 * the helper reads the end of its input and exits.
 *
 * @example
 * const spawner = openProcessSpawner();
 * const child = (spawner?.spawn ?? spawnWithNode)('/usr/bin/umount', [target], { stdio: ['ignore', 'ignore', 'pipe'] });
 * child.on('close', (code) => console.log(code));
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { Duplex, type Readable } from 'node:stream';
import { InvalidArgumentError } from '../errors/index.ts';
import { findExecutableSync } from './runtime-probe.ts';
import { type SpawnedProcess, type Spawner, type SpawnProcess, spawnWithNode } from './spawn-process.ts';

/** The helper; `$0` renames it in ps (the script would otherwise show as its command line). */
const HELPER_SCRIPT = String.raw`
use strict; use warnings; use POSIX (); use Socket (); use Fcntl ();
$0 = 'wharf-spawner';
$SIG{PIPE} = 'IGNORE';
my ($SYS_mount, $SYS_umount2) = ($ENV{WHARF_SYS_MOUNT}, $ENV{WHARF_SYS_UMOUNT2});
my (%kids, %pids, %reading);
my $in = '';
pipe(my $wake_r, my $wake_w) or die "pipe: $!";
nb($wake_r); nb($wake_w);
$SIG{CHLD} = sub { syswrite($wake_w, '.') };
sub nb { my $flags = fcntl($_[0], Fcntl::F_GETFL(), 0); fcntl($_[0], Fcntl::F_SETFL(), $flags | Fcntl::O_NONBLOCK()) }
sub put {
  my ($fh, $bytes) = @_;
  my $off = 0;
  while ($off < length $bytes) {
    my $n = syswrite($fh, $bytes, length($bytes) - $off, $off);
    if (defined $n) { $off += $n; next }
    return 0 unless $!{EINTR} || $!{EAGAIN};
    my $w = ''; vec($w, fileno($fh), 1) = 1; select(undef, $w, undef, 1);
  }
  return 1;
}
sub send_msg { my $p = join("\0", @_); put(\*STDOUT, pack('N', length $p) . $p) or exit 0 }
sub forget { my ($kid) = @_; delete $kids{$kid->{tag}} if $kid->{exited} && !%{$kid->{fds}} }
sub drop_fd {
  my ($kid, $i) = @_;
  my $h = delete $kid->{fds}{$i} or return;
  delete $reading{fileno $h};
  close $h;
  forget($kid);
}
sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $st = $?;
    my $kid = delete $pids{$pid} or next;
    $kid->{exited} = 1;
    send_msg('exit', $kid->{tag}, POSIX::WIFSIGNALED($st) ? ('', POSIX::WTERMSIG($st)) : (POSIX::WEXITSTATUS($st), ''));
    forget($kid);
  }
}
sub child {
  my ($err_w, $cwd, $detached, $file, $argv, $env, $spec, $theirs) = @_;
  $SIG{CHLD} = 'DEFAULT'; $SIG{PIPE} = 'DEFAULT';
  POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new());
  # the error pipe above the fds the child gets, so that none of them replaces it
  my $err;
  my $errfd = fcntl($err_w, Fcntl::F_DUPFD(), 300);
  POSIX::_exit(127) unless defined $errfd && open($err, '>&=', $errfd);
  fcntl($err, Fcntl::F_SETFD(), Fcntl::FD_CLOEXEC());
  my $what = 'setsid';
  if (!$detached || defined POSIX::setsid()) {
    $what = 'open /dev/null';
    if (open(my $null, '+<', '/dev/null')) {
      my @src; $what = 'dup';
      for my $i (0 .. $#$spec) {
        my $n = fcntl($spec->[$i] eq 'p' ? $theirs->[$i] : $null, Fcntl::F_DUPFD(), 200);
        last unless defined $n;
        push @src, $n;
      }
      if (@src == @$spec) {
        my $ok = 1;
        for my $i (0 .. $#src) { $ok = 0, last unless defined POSIX::dup2($src[$i], $i) }
        if ($ok) {
          POSIX::close($_) for @src;
          $what = "chdir $cwd";
          if (chdir $cwd) {
            %ENV = map { split /=/, $_, 2 } @$env;
            $what = 'exec';
            exec { $file } @$argv;
          }
        }
      }
    }
  }
  my $errno = $! + 0;
  syswrite($err, "$errno\0$what: $!");
  POSIX::_exit(127);
}
sub builtin {
  my ($op, @args) = @_;
  if ($op eq ':mount' && $SYS_mount) {
    my ($source, $target, $type, $data) = @args;
    return (0, '') if syscall($SYS_mount, $source, $target, $type, 0, $data) == 0;
    return (32, "mount: $target: $!");
  }
  if ($op eq ':umount' && $SYS_umount2) {
    for my $path (@args) {
      next if syscall($SYS_umount2, $path, 8) == 0; # UMOUNT_NOFOLLOW
      return (32, "umount: $path: $!");
    }
    return (0, '');
  }
  if ($op eq ':rmdir') {
    for my $dir (@args) {
      next if rmdir($dir) || $!{ENOENT};
      return (1, "rmdir: $dir: $!");
    }
    return (0, '');
  }
  return (127, "$op: not supported here");
}
# A builtin runs here, in the helper itself (a system call or two: a fork and the wake-ups of
# a child's exit cost more), and is reported as a child that ran and exited.
sub run_builtin {
  my ($tag, $cwd, $op, $args, $spec) = @_;
  return send_msg('failed', $tag, $! + 0, "chdir $cwd: $!") unless chdir $cwd;
  my ($code, $message) = builtin($op, @$args);
  chdir '/';
  send_msg('spawned', $tag, 0);
  send_msg('data', $tag, 2, "$message\n") if $message ne '' && ($spec->[2] // '') eq 'p';
  for my $i (0 .. $#$spec) { send_msg('eof', $tag, $i) if $spec->[$i] eq 'p' }
  send_msg('exit', $tag, $code, '');
}
sub spawn_kid {
  my ($tag, $cwd, $detached, $file, @rest) = @_;
  my $nargs = shift @rest; my @argv = splice(@rest, 0, $nargs);
  my $nenv = shift @rest; my @env = splice(@rest, 0, $nenv);
  my @spec = split //, (shift(@rest) // '');
  return run_builtin($tag, $cwd, $file, [@argv[1 .. $#argv]], \@spec) if $file =~ /^:/;
  my (@mine, @theirs);
  for my $i (0 .. $#spec) {
    next unless $spec[$i] eq 'p';
    socketpair(my $a, my $b, Socket::AF_UNIX(), Socket::SOCK_STREAM(), Socket::PF_UNSPEC())
      or return send_msg('failed', $tag, $! + 0, "socketpair: $!");
    ($mine[$i], $theirs[$i]) = ($a, $b);
  }
  pipe(my $err_r, my $err_w) or return send_msg('failed', $tag, $! + 0, "pipe: $!");
  my $pid = fork();
  return send_msg('failed', $tag, $! + 0, "fork: $!") unless defined $pid;
  child($err_w, $cwd, $detached, $file, \@argv, \@env, \@spec, \@theirs) if $pid == 0;
  close $err_w;
  close $_ for grep { defined } @theirs;
  my $why = '';
  while (1) { my $n = sysread($err_r, $why, 4096, length $why); last if defined $n && $n == 0; next if defined $n || $!{EINTR}; last }
  close $err_r;
  if (length $why) {
    waitpid($pid, 0);
    return send_msg('failed', $tag, split(/\0/, $why, 2));
  }
  my $kid = { tag => $tag, pid => $pid, fds => {} };
  for my $i (0 .. $#spec) {
    next unless defined $mine[$i];
    nb($mine[$i]);
    $kid->{fds}{$i} = $mine[$i];
    $reading{fileno $mine[$i]} = [$kid, $i];
  }
  $kids{$tag} = $kid; $pids{$pid} = $kid;
  send_msg('spawned', $tag, $pid);
}
sub command {
  my ($op, $tag, @rest) = @_;
  return spawn_kid($tag, @rest) if $op eq 'spawn';
  my $kid = $kids{$tag} or return;
  if ($op eq 'kill') { kill($rest[0], $kid->{pid}) if $kid->{pid} > 0 && !$kid->{exited}; return }
  my $h = $kid->{fds}{$rest[0]} or return;
  if ($op eq 'write') { put($h, $rest[1] // '') }
  elsif ($op eq 'end') { shutdown($h, 1) }
  elsif ($op eq 'close') { drop_fd($kid, $rest[0]) }
}
while (1) {
  my $rin = '';
  vec($rin, 0, 1) = 1;
  vec($rin, fileno($wake_r), 1) = 1;
  vec($rin, $_, 1) = 1 for keys %reading;
  my $n = select(my $rout = $rin, undef, undef, undef);
  if (!defined $n || $n < 0) { next if $!{EINTR}; die "select: $!" }
  if (vec($rout, fileno($wake_r), 1)) { sysread($wake_r, my $junk, 4096); }
  reap();
  for my $fd (keys %reading) {
    next unless vec($rout, $fd, 1) && $reading{$fd};
    my ($kid, $i) = @{$reading{$fd}};
    my $r = sysread($kid->{fds}{$i}, my $buf, 65536);
    next if !defined $r && ($!{EINTR} || $!{EAGAIN});
    if ($r) { send_msg('data', $kid->{tag}, $i, $buf); next }
    delete $reading{$fd};
    send_msg('eof', $kid->{tag}, $i);
  }
  if (vec($rout, 0, 1)) {
    my $r = sysread(STDIN, $in, 65536, length $in);
    next if !defined $r && $!{EINTR};
    exit 0 unless $r;
    while (length($in) >= 4) {
      my $len = unpack('N', $in);
      last if length($in) < 4 + $len;
      my $msg = substr($in, 4, $len);
      substr($in, 0, 4 + $len) = '';
      my ($op) = split /\0/, $msg, 2;
      my $fields = $op eq 'write' ? 4 : -1;
      command(split /\0/, $msg, $fields);
    }
  }
}
`;

/**
 * mount(2) and umount2(2) by architecture, for the helper's `:mount` and `:umount` (see
 * ProcessSpawner's `builtins`); elsewhere the tools run.
 */
const MOUNT_SYSCALLS: Partial<Record<NodeJS.Architecture, { mount: number; umount2: number }>> = {
  x64: { mount: 165, umount2: 166 },
  arm64: { mount: 40, umount2: 39 },
  riscv64: { mount: 40, umount2: 39 },
  loong64: { mount: 40, umount2: 39 },
};

/** Signal numbers by name and names by number, for `kill` and for exits by signal. */
const SIGNALS = osConstants.signals as Record<string, number>;
const SIGNAL_NAMES = new Map(
  Object.entries(SIGNALS).map(([name, number]) => [number, name as NodeJS.Signals]),
);
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, number]) => [number, name]));

function frame(fields: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  fields.forEach((field, index) => {
    if (index > 0) parts.push(NUL);
    parts.push(typeof field === 'string' ? Buffer.from(field, 'utf8') : field);
  });
  const payload = Buffer.concat(parts);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

const NUL = Buffer.from([0]);

/** The first `count` NUL-separated fields of `payload` as text, the rest as bytes. */
function fields(payload: Buffer, count: number): { text: string[]; rest: Buffer } {
  const text: string[] = [];
  let start = 0;
  while (text.length < count) {
    const end = payload.indexOf(0, start);
    if (end < 0) {
      text.push(payload.subarray(start).toString('utf8'));
      return { text, rest: Buffer.alloc(0) };
    }
    text.push(payload.subarray(start, end).toString('utf8'));
    start = end + 1;
  }
  return { text, rest: payload.subarray(start) };
}

/** One relayed fd of a helper's child (a socket of Node's spawn ends the same way: both sides). */
class RelayedPipe extends Duplex {
  readonly #send: (fields: (string | Buffer)[]) => void;
  readonly #fd: string;
  readonly #destroyed: () => void;

  constructor(send: (fields: (string | Buffer)[]) => void, fd: number, destroyed: () => void) {
    super({ allowHalfOpen: false });
    this.#send = send;
    this.#fd = String(fd);
    this.#destroyed = destroyed;
  }

  override _read(): void {
    // the helper sends what the child writes as it comes (data, then eof)
  }

  override _write(
    chunk: Buffer | string,
    encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#send(['write', this.#fd, typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk]);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#send(['end', this.#fd]);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#send(['close', this.#fd]);
    this.#destroyed();
    callback(error);
  }
}

/** A child of the helper, seen as a child process. */
class HelperChild extends EventEmitter implements SpawnedProcess {
  readonly stdio: (RelayedPipe | null)[];
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly #send: (fields: (string | Buffer)[]) => void;
  readonly #file: string;
  /** Called once the child is done with (closed, or its spawn failed). */
  readonly #release: () => void;
  #exited = false;
  /** Pipes not done yet (see #pipeDone), and the fds of those that are. */
  #open = 0;
  readonly #done = new Set<number>();
  #closed = false;
  #killBeforeSpawn: NodeJS.Signals | undefined;

  constructor(
    send: (fields: (string | Buffer)[]) => void,
    file: string,
    stdio: readonly ('ignore' | 'pipe')[],
    release: () => void,
  ) {
    super();
    this.#send = send;
    this.#file = file;
    this.#release = release;
    // Counted here, not through the streams' events: a user may remove every listener of a
    // stream it is done with (conmon.ts does).
    this.stdio = stdio.map((mode, fd) => {
      if (mode !== 'pipe') return null;
      this.#open++;
      const pipe = new RelayedPipe(send, fd, () => this.#pipeDone(fd));
      pipe.on('error', () => undefined); // a write after the child closed its end, as a socket's EPIPE
      return pipe;
    });
  }

  /** A pipe is done once the child's side has ended or this side destroyed it. */
  #pipeDone(fd: number): void {
    if (this.#done.has(fd)) return;
    this.#done.add(fd);
    this.#open--;
    this.#maybeClose();
  }

  get stderr(): Readable | null {
    return this.stdio[2] ?? null;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.#exited || SIGNALS[signal] === undefined) return false;
    if (this.pid === undefined) {
      // asked before the helper said it started: sent once it has
      this.#killBeforeSpawn = signal;
      return true;
    }
    this.#send(['kill', String(SIGNALS[signal])]);
    return true;
  }

  unref(): void {
    // the helper is shared: the spawner refs it while any child is under way
  }

  spawned(pid: number): void {
    this.pid = pid;
    if (this.#killBeforeSpawn) this.kill(this.#killBeforeSpawn);
    this.emit('spawn');
  }

  failed(errno: number, message: string): void {
    const code = ERRNO_NAMES.get(errno) ?? 'EIO';
    const error = Object.assign(new Error(`spawn ${this.#file} ${code}: ${message}`), {
      errno: -errno,
      code,
      syscall: `spawn ${this.#file}`,
      path: this.#file,
    });
    this.#exited = true;
    this.#closed = true;
    for (const pipe of this.stdio) pipe?.destroy();
    this.#release();
    this.emit('error', error);
  }

  data(fd: number, bytes: Buffer): void {
    const pipe = this.stdio[fd];
    if (pipe && !pipe.destroyed && !pipe.readableEnded) pipe.push(bytes);
  }

  eof(fd: number): void {
    const pipe = this.stdio[fd];
    if (!pipe) return;
    if (!pipe.destroyed && !pipe.readableEnded) {
      pipe.push(null);
      // a pipe nobody reads would never end: let it flow
      if (pipe.listenerCount('data') === 0 && pipe.listenerCount('readable') === 0) pipe.resume();
    }
    this.#pipeDone(fd);
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#exited) return;
    this.#exited = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
    this.#maybeClose();
  }

  /** The helper died: what it relayed ends here, unreported. */
  lost(): void {
    if (this.pid === undefined) {
      this.failed(osConstants.errno.EPIPE, 'the spawner exited');
      return;
    }
    for (let fd = 0; fd < this.stdio.length; fd++) this.eof(fd);
    this.exited(null, null);
  }

  #maybeClose(): void {
    if (this.#closed || !this.#exited || this.#open > 0) return;
    this.#closed = true;
    this.#release();
    // as Node's: 'close' after 'exit', in a later turn
    setImmediate(() => this.emit('close', this.exitCode, this.signalCode));
  }
}

/** One helper process and the children it started (they die with it, as far as we know). */
interface Helper {
  process: ChildProcess;
  children: Map<number, HelperChild>;
  /** Bytes of a message not complete yet. */
  buffer: Buffer;
  /** Its output has ended: it is gone, or going. */
  gone: boolean;
}

/**
 * A helper that spawns for this process (see the module comment). `spawn` has Node's spawn's
 * shape for what Wharf's process runs use.
 */
export class ProcessSpawner implements Spawner {
  readonly #perl: string;
  #helper: Helper | undefined;
  #nextTag = 1;
  #closed = false;

  /**
   * Whether the helper runs `:mount SOURCE TARGET TYPE DATA` (mount(2) with no flags, from the
   * given `cwd`) and `:umount PATH...` (umount2(2) of each, in order, without following a
   * symbolic link) itself, as tools that fail with exit code 32 and a line on stderr: no
   * mount(8) or umount(8) to exec and load (3-8 ms each here, against 0.1 ms for an unmount's
   * system call), and no process at all (the helper makes the call; its pid is reported as 0).
   * `:rmdir DIR...` (rmdir(2) of each, a missing one skipped; exit code 1 and a line on stderr at
   * the first failure) is there on every architecture.
   */
  readonly builtins: boolean;

  constructor(perl: string) {
    this.#perl = perl;
    this.builtins = MOUNT_SYSCALLS[process.arch] !== undefined;
  }

  /** Starts `file` through the helper (Node's spawn once the spawner is closed); see SpawnProcess. */
  readonly spawn: SpawnProcess = (file, args, options) => {
    if (this.#closed) return spawnWithNode(file, args, options);
    // the protocol's separator (Node's spawn refuses it too)
    for (const word of [file, options.cwd ?? '', ...args, ...Object.entries(options.env ?? {}).flat()]) {
      if (word?.includes('\0'))
        throw new InvalidArgumentError(`Cannot run ${file}: an argument holds a NUL byte`);
    }
    const helper = this.#ensureHelper();
    const tag = this.#nextTag++;
    const send = (fields: (string | Buffer)[]) => {
      const stdin = helper.process.stdin;
      if (!helper.gone && stdin?.writable) stdin.write(frame([fields[0]!, String(tag), ...fields.slice(1)]));
    };
    const child = new HelperChild(send, file, options.stdio, () => {
      helper.children.delete(tag);
      track(helper);
    });
    helper.children.set(tag, child);
    track(helper);
    const env = Object.entries(options.env ?? process.env)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, value]) => `${key}=${value}`);
    send([
      'spawn',
      options.cwd ?? process.cwd(),
      options.detached ? '1' : '',
      file,
      String(args.length + 1),
      file,
      ...args,
      String(env.length),
      ...env,
      options.stdio.map((mode) => (mode === 'pipe' ? 'p' : 'n')).join(''),
    ]);
    return child;
  };

  /** Starts the helper now rather than at the first spawn. */
  start(): void {
    if (!this.#closed) this.#ensureHelper();
  }

  /** Ends the helper (the children it started go on, unreported); later spawns use Node's. */
  close(): void {
    this.#closed = true;
    this.#helper?.process.stdin?.end();
    this.#helper = undefined;
  }

  #ensureHelper(): Helper {
    if (this.#helper && !this.#helper.gone) return this.#helper;
    const syscalls = MOUNT_SYSCALLS[process.arch];
    const helperProcess = spawn(this.#perl, ['-e', HELPER_SCRIPT], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LC_ALL: 'C',
        ...(syscalls
          ? { WHARF_SYS_MOUNT: String(syscalls.mount), WHARF_SYS_UMOUNT2: String(syscalls.umount2) }
          : {}),
      },
    });
    const helper: Helper = {
      process: helperProcess,
      children: new Map(),
      buffer: Buffer.alloc(0),
      gone: false,
    };
    this.#helper = helper;
    helperProcess.on('error', () => undefined); // no perl after all: its output ends, below
    helperProcess.stdin!.on('error', () => undefined);
    // The end of its output, not its 'exit', says it is gone: the process handle is unref'd and
    // would not keep this process alive until the exit is seen; the output is, while a child is
    // under way (track).
    const gone = () => {
      if (helper.gone) return;
      helper.gone = true;
      if (this.#helper === helper) this.#helper = undefined;
      for (const child of [...helper.children.values()]) child.lost();
      helper.process.stdin?.destroy();
    };
    helperProcess.stdout!.on('data', (chunk: Buffer) => receive(helper, chunk));
    helperProcess.stdout!.once('end', gone);
    helperProcess.stdout!.once('close', gone);
    helperProcess.unref();
    track(helper);
    return helper;
  }
}

/** Keeps the event loop alive while one of the helper's children is under way, not otherwise. */
function track(helper: Helper): void {
  for (const stream of [helper.process.stdout, helper.process.stdin]) {
    const handle = stream as (Readable & { ref?(): void; unref?(): void }) | null;
    if (helper.children.size > 0 && !helper.gone) handle?.ref?.();
    else handle?.unref?.();
  }
}

function receive(helper: Helper, chunk: Buffer): void {
  helper.buffer = helper.buffer.length === 0 ? chunk : Buffer.concat([helper.buffer, chunk]);
  while (helper.buffer.length >= 4) {
    const length = helper.buffer.readUInt32BE(0);
    if (helper.buffer.length < 4 + length) break;
    const payload = helper.buffer.subarray(4, 4 + length);
    helper.buffer = helper.buffer.subarray(4 + length);
    const { text, rest } = fields(payload, 3);
    const [op, tag, first] = text;
    const child = helper.children.get(Number(tag));
    if (!child) continue;
    switch (op) {
      case 'spawned':
        child.spawned(Number(first));
        break;
      case 'failed':
        child.failed(Number(first), rest.toString('utf8'));
        break;
      case 'data':
        child.data(Number(first), Buffer.from(rest));
        break;
      case 'eof':
        child.eof(Number(first));
        break;
      case 'exit': {
        const signal = rest.toString('utf8');
        child.exited(
          first === '' ? null : Number(first),
          signal === '' ? null : (SIGNAL_NAMES.get(Number(signal)) ?? null),
        );
        break;
      }
    }
  }
}

/**
 * A spawner for this process, its helper started now (perl takes 10-25 ms to start: better at a
 * daemon's start than at its first container's), or undefined when perl is not installed (the
 * caller then uses Node's spawn).
 *
 * @example
 * const spawner = openProcessSpawner();
 * const spawnProcess = spawner?.spawn ?? spawnWithNode;
 */
export function openProcessSpawner(): ProcessSpawner | undefined {
  const perl = findExecutableSync('perl');
  if (!perl) return undefined;
  const spawner = new ProcessSpawner(perl);
  spawner.start();
  return spawner;
}
