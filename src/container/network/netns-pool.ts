/**
 * Network namespaces made and deleted off the critical path of `run`: a few spares per network,
 * each already wired (namespace, veth pair into the bridge, address, `lo`, default route), handed
 * to a starting container in one database transaction; and the namespaces of stopped containers,
 * deleted by a detached helper while the container's exit goes on. Both are made by a helper
 * process of their own (`sh` running one or two `ip -batch`), so neither the `wharf` process nor
 * the container waits for the kernel (veth deletion waits for RCU grace periods: tens of ms,
 * hundreds under load).
 *
 * Life of a pool row (table net_pool, see network-store.ts), written before the kernel work it
 * stands for, so a crash at any point leaves a row the next sweep finds:
 *
 *   spare    insertSpare (address taken) -> helper: ip -b (netns, veth, bridge port)
 *            -> ip -n NS -b (address, lo, route) -> READY file          usable once READY exists
 *            -> claimSpare: the row goes, the container's endpoint takes address and veth
 *   retired  retireSandbox (the container's addresses move here) -> helper: ip -force -b
 *            (link del, netns del) -> reap: the row goes once namespace and veth are gone,
 *            and only then is the address free again (a veth still in the kernel keeps it)
 *
 * A spare whose helper died before READY, or that is older than SPARE_TIMEOUT_MS without it,
 * is retired; a retired row whose helper died with the objects still there gets a new helper.
 * `drain` deletes synchronously (network rm, prune, destroyAll): it first waits for running
 * helpers, so none makes an object after the drain.
 *
 *   /run/wharf/TAG/netns-pool/      helper files: NAME.host / NAME.ns (ip batches), NAME.ready
 *
 * Namespace names are `wharf-TAG-<12 random hex>`, so the deep sweep's pattern covers them.
 *
 * @example
 * const pool = new NetnsPool({ store, runDir, tag, bootId, size: 1 });
 * const spare = await pool.take(network);      // a ready spare of the network, or undefined
 * pool.fill(network);                          // starts a helper when the pool is short
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isProcessAlive } from '../../util/process-alive.ts';
import { linkExists, NETNS_DIR } from './bridge-driver.ts';
import { hostExecRaw, hostTool } from './host-exec.ts';
import { parseCidr } from './ipv4.ts';
import type { NetworkRecord, NetworkStore, PoolRecord } from './network-store.ts';

/** A spare without READY after this long is given up (its helper hung or lost its row). */
const SPARE_TIMEOUT_MS = 30_000;
/** How long `take` waits for a spare still being made before the caller makes its own. */
const TAKE_WAIT_MS = 1_500;
/** A retired row whose helper is gone is given a new helper only after this long. */
const RETRY_AFTER_MS = 5_000;

export interface NetnsPoolOptions {
  store: NetworkStore;
  /** /run/wharf/TAG */
  runDir: string;
  tag: string;
  bootId: string;
  /** Spares kept per network that has had a container; 0 turns the pool off. */
  size: number;
}

/** The pool size: WHARF_NETNS_POOL (0 turns it off), default 1 spare per network. */
export function poolSizeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number.parseInt(env.WHARF_NETNS_POOL ?? '', 10);
  return Number.isInteger(value) && value >= 0 ? Math.min(value, 8) : 1;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lines of `ip -batch` that make a spare: on the host, then inside its namespace. */
export function spareBatches(
  spare: Pick<PoolRecord, 'netns' | 'hostVeth' | 'ip' | 'mac'>,
  network: Pick<NetworkRecord, 'bridge' | 'subnet' | 'gateway' | 'internal'>,
): { host: string; inside: string } {
  const prefix = parseCidr(network.subnet).prefix;
  const host = [
    `netns add ${spare.netns}`,
    `link add ${spare.hostVeth} type veth peer name eth0 address ${spare.mac} netns ${spare.netns}`,
    `link set ${spare.hostVeth} master ${network.bridge} up`,
  ];
  const inside = ['link set lo up', `addr replace ${spare.ip}/${prefix} dev eth0`, 'link set eth0 up'];
  if (!network.internal) inside.push(`route replace default via ${network.gateway} dev eth0`);
  return { host: `${host.join('\n')}\n`, inside: `${inside.join('\n')}\n` };
}

export class NetnsPool {
  readonly #store: NetworkStore;
  readonly #dir: string;
  readonly #tag: string;
  readonly #bootId: string;
  readonly size: number;
  /** Work put off to the next turn of the event loop (see `#later`). */
  readonly #pending = new Set<Promise<void>>();

  constructor(options: NetnsPoolOptions) {
    this.#store = options.store;
    this.#dir = join(options.runDir, 'netns-pool');
    this.#tag = options.tag;
    this.#bootId = options.bootId;
    this.size = options.size;
  }

  #file(netns: string, suffix: 'host' | 'ns' | 'ready' | 'del'): string {
    return join(this.#dir, `${netns}.${suffix}`);
  }

  #ready(spare: PoolRecord, network: NetworkRecord): boolean {
    if (!existsSync(this.#file(spare.netns, 'ready'))) return false;
    if (!existsSync(join(NETNS_DIR, spare.netns))) return false;
    try {
      // the veth is still a port of this network's bridge (not deleted, bridge not remade)
      return basename(readlinkSync(`/sys/class/net/${spare.hostVeth}/master`)) === network.bridge;
    } catch {
      return false;
    }
  }

  /**
   * Runs `work` on the next turn of the event loop: spawning a helper blocks this process for
   * a fork (several ms here), which is better paid while it waits for the container's own
   * processes than inside the attach or detach its caller waits for. Errors are dropped: the
   * rows written first let the sweep finish or undo what `work` began.
   */
  #later(work: () => void): void {
    const done = new Promise<void>((resolve) => {
      setImmediate(() => {
        try {
          work();
        } catch {
          // see above
        }
        resolve();
      });
    });
    this.#pending.add(done);
    void done.then(() => this.#pending.delete(done));
  }

  /** Waits for the work `#later` put off (before looking at or deleting the pool's rows). */
  async #flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Starts `sh -c script` detached (it outlives this process) and returns its pid. */
  #helper(script: string, args: string[]): number {
    const child = spawn('/bin/sh', ['-c', script, 'wharf-netns-pool', ...args], {
      detached: true,
      stdio: 'ignore',
    });
    child.on('error', () => {
      // no pid: the row keeps pid 0 and the sweep gives it up after its timeout
    });
    child.unref();
    return child.pid ?? 0;
  }

  /**
   * A ready spare of `network`, taken out of the pool for a container: its sandbox row is made
   * from `sandbox` in the same transaction. Waits a little for a spare still being made (it is
   * nearly done, and waiting keeps addresses in order); undefined when there is none.
   */
  async take(
    network: NetworkRecord,
    sandbox: Parameters<NetworkStore['claimSpare']>[1],
  ): Promise<PoolRecord | undefined> {
    if (this.size === 0) return undefined;
    const deadline = Date.now() + TAKE_WAIT_MS;
    for (;;) {
      const spares = this.#store
        .listPool(network.id)
        .filter((row) => row.state === 'spare' && row.bootId === this.#bootId);
      let waiting = false;
      for (const spare of spares) {
        if (this.#ready(spare, network)) {
          if (this.#store.claimSpare(spare, sandbox, join(NETNS_DIR, spare.netns))) {
            rmSync(this.#file(spare.netns, 'ready'), { force: true });
            return spare;
          }
          continue;
        }
        const young = Date.now() - spare.created < SPARE_TIMEOUT_MS;
        if (young && (spare.pid === 0 || isProcessAlive(spare.pid))) waiting = true;
      }
      if (!waiting || Date.now() > deadline) return undefined;
      await sleep(5);
    }
  }

  /**
   * Starts helpers (on the next turn of the event loop) until `network` has `size` spares, made
   * or being made. Never throws: with a full subnet or a busy database the next attach makes
   * its namespace itself.
   */
  fill(network: NetworkRecord): void {
    if (this.size === 0) return;
    this.#later(() => {
      const have = this.#store.listPool(network.id).filter((row) => row.state === 'spare').length;
      for (let i = have; i < this.size; i++) this.#makeSpare(network);
    });
  }

  #makeSpare(network: NetworkRecord): void {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const spare = this.#store.insertSpare({
      netns: `wharf-${this.#tag}-${randomBytes(6).toString('hex')}`,
      hostVeth: `wh${randomBytes(6).toString('hex').slice(0, 11)}`,
      network,
      bootId: this.#bootId,
    });
    const batches = spareBatches(spare, network);
    const host = this.#file(spare.netns, 'host');
    const inside = this.#file(spare.netns, 'ns');
    writeFileSync(host, batches.host);
    writeFileSync(inside, batches.inside);
    const pid = this.#helper('"$1" -b "$2" && "$1" -n "$3" -b "$4" && : > "$5"; rm -f "$2" "$4"', [
      hostTool('ip'),
      host,
      spare.netns,
      inside,
      this.#file(spare.netns, 'ready'),
    ]);
    // no helper started (fork failed): nothing was made, the row goes
    if (pid === 0) this.#store.deletePool(spare.netns);
    else this.#store.setPoolPid(spare.netns, pid);
  }

  /**
   * Deletes a detached container's namespace in the background: `retired` lists its interfaces
   * (rows written first, then the helper starts). The caller has removed its port rules.
   */
  retire(containerId: string, retired: ReadonlyArray<Omit<PoolRecord, 'state' | 'pid'>>): void {
    const first = retired[0];
    if (!first) return;
    this.#store.retireSandbox(containerId, retired);
    this.#later(() => this.#deleteInBackground(first.netns, retired));
  }

  #deleteInBackground(netns: string, rows: ReadonlyArray<Pick<PoolRecord, 'hostVeth'>>): void {
    const lines = deleteBatch(netns, rows);
    // nothing left to delete: the next reap forgets the row
    if (!lines) return;
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const batch = this.#file(netns, 'del');
    writeFileSync(batch, lines);
    const pid = this.#helper('"$1" -force -b "$2"; rm -f "$2" "$3"', [
      hostTool('ip'),
      batch,
      this.#file(netns, 'ready'),
    ]);
    this.#store.setPoolPid(netns, pid);
  }

  /**
   * Forgets retired namespaces the kernel has let go of (their addresses are free again), gives
   * up spares that failed, and restarts deletions whose helper died. Cheap: a query and a few
   * stats. Rows of another boot are dropped (the kernel state went with that boot).
   */
  reap(): void {
    const now = Date.now();
    const byNetns = new Map<string, PoolRecord[]>();
    for (const row of this.#store.listPool()) {
      byNetns.set(row.netns, [...(byNetns.get(row.netns) ?? []), row]);
    }
    for (const [netns, rows] of byNetns) {
      const row = rows[0]!;
      if (row.bootId !== this.#bootId) {
        this.#store.deletePool(netns);
        continue;
      }
      const gone = !existsSync(join(NETNS_DIR, netns)) && rows.every((r) => !linkExists(r.hostVeth));
      if (row.state === 'retired') {
        if (gone) {
          this.#store.deletePool(netns);
          rmSync(this.#file(netns, 'del'), { force: true });
        } else if (!isProcessAlive(row.pid) && now - row.created > RETRY_AFTER_MS) {
          this.#deleteInBackground(netns, rows);
        }
        continue;
      }
      const ready = existsSync(this.#file(netns, 'ready'));
      const failed =
        !ready && (now - row.created > SPARE_TIMEOUT_MS || (row.pid > 0 && !isProcessAlive(row.pid)));
      if (failed || (ready && gone)) {
        this.#store.retirePool(netns, now);
        this.#deleteInBackground(netns, rows);
      }
    }
  }

  /** Waits (up to `ms`) for the helpers of these rows to exit. */
  async #waitForHelpers(rows: readonly PoolRecord[], ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (rows.some((row) => isProcessAlive(row.pid)) && Date.now() < deadline) await sleep(10);
  }

  /** Waits for the running helpers, then reaps: what tests call before looking at the host. */
  async settle(): Promise<void> {
    await this.#flush();
    await this.#waitForHelpers(this.#store.listPool());
    this.reap();
    await this.#waitForHelpers(this.#store.listPool());
    this.reap();
  }

  /**
   * Deletes the namespaces of the pool (those `which` picks, or all) now, spares and retired
   * alike, after their helpers are done; their addresses are free when it returns.
   */
  async drain(which: (row: PoolRecord) => boolean = () => true): Promise<void> {
    await this.#flush();
    const rows = this.#store.listPool().filter(which);
    if (rows.length === 0) return;
    await this.#waitForHelpers(rows);
    const byNetns = new Map<string, PoolRecord[]>();
    for (const row of rows) byNetns.set(row.netns, [...(byNetns.get(row.netns) ?? []), row]);
    const lines = [...byNetns].map(([netns, list]) => deleteBatch(netns, list)).join('');
    if (lines) await hostExecRaw('ip', ['-force', '-b', '-'], { input: lines });
    for (const netns of byNetns.keys()) {
      if (existsSync(join(NETNS_DIR, netns))) {
        await hostExecRaw('ip', ['netns', 'del', netns]);
      }
      this.#store.deletePool(netns);
      for (const suffix of ['host', 'ns', 'ready', 'del'] as const) {
        rmSync(this.#file(netns, suffix), { force: true });
      }
    }
  }

  /** The namespace names the pool accounts for (the deep sweep keeps them). */
  names(): Set<string> {
    return new Set(this.#store.listPool().map((row) => row.netns));
  }
}

/** `ip -force -batch` lines deleting a namespace and the host ends of its veths. */
function deleteBatch(netns: string, rows: ReadonlyArray<Pick<PoolRecord, 'hostVeth'>>): string {
  const lines = rows.filter((row) => linkExists(row.hostVeth)).map((row) => `link del ${row.hostVeth}`);
  if (existsSync(join(NETNS_DIR, netns))) lines.push(`netns del ${netns}`);
  return lines.length ? `${lines.join('\n')}\n` : '';
}
