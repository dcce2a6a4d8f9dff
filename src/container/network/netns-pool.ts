/**
 * Network namespaces made and deleted off the critical path of `run`: a few spares per network,
 * each already wired (namespace, veth pair into the bridge, address, `lo`, default route), handed
 * to a starting container in one database transaction; and the namespaces of stopped containers,
 * deleted while the container's exit goes on. The kernel work is done by the root's pool keeper
 * (pool-keeper.ts: one long-lived `bash` reading commands from a FIFO), so neither the `wharf`
 * process nor the container waits for the kernel (veth deletion waits for RCU grace periods:
 * tens of ms, hundreds under load), and no `wharf` process forks for it either (a fork of the
 * Node process costs 2-3 ms of its main thread here; handing a command over is one write).
 *
 * Life of a pool row (table net_pool, see network-store.ts), written before the kernel work it
 * stands for, with the pid of the process given that work, so a crash at any point leaves a row
 * the next reap finds:
 *
 *   spare    insertSpare (address taken) -> keeper: ip -b (netns, veth, bridge port)
 *            -> ip -n NS -b (address, lo, route) -> NS.ready (NS.failed)   usable once ready
 *            -> claimSpare: the row goes, the container's endpoint takes address and veth
 *   retired  retireSandbox (the container's addresses move here) -> keeper: ip -force -b
 *            (link del, netns del) -> reap: the row goes once namespace and veth are gone,
 *            and only then is the address free again (a veth still in the kernel keeps it)
 *
 * A spare marked failed, whose process died before READY, or older than SPARE_TIMEOUT_MS
 * without it, is retired; a retired row whose objects are still there when its process has
 * died (or after SPARE_TIMEOUT_MS) is deleted again. `drain` deletes synchronously (network rm,
 * prune, destroyAll): it first waits for the work under way on its rows, so nothing is made
 * after the drain.
 *
 *   /run/wharf/TAG/netns-pool/      the keeper's FIFO, pid and lock; NAME.ready, NAME.failed
 *
 * Namespace names are `wharf-TAG-<12 random hex>`, so the deep sweep's pattern covers them.
 *
 * @example
 * const pool = new NetnsPool({ store, runDir, tag, bootId, size: 1 });
 * const spare = await pool.take(network, sandbox); // a ready spare of the network, or undefined
 * pool.fill(network);                              // hands the keeper a spare to make when short
 */
import { existsSync, readlinkSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isProcessAlive } from '../../util/process-alive.ts';
import { randomHex } from '../../util/random-hex.ts';
import { linkExists, NETNS_DIR } from './bridge-driver.ts';
import { hostExecRaw } from './host-exec.ts';
import { parseCidr } from './ipv4.ts';
import type { NetworkRecord, NetworkStore, PoolRecord } from './network-store.ts';
import { deleteCommand, makeCommand, PoolKeeper } from './pool-keeper.ts';

/** A spare without READY after this long is given up (its work was lost or hung). */
const SPARE_TIMEOUT_MS = 30_000;
/** How long `take` waits for a spare still being made before the caller makes its own. */
const TAKE_WAIT_MS = 1_500;
/** A retired row whose process died with its objects left is deleted again only after this long. */
const RETRY_AFTER_MS = 5_000;
/** Files of the pool directory named after a namespace (the last three are from older versions). */
const ROW_FILES = ['ready', 'failed', 'host', 'ns', 'del'] as const;

/** unlink(2), quiet when the file is not there (rmSync's force costs an lstat first). */
function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there (or not ours to delete): nothing to do
  }
}

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
  readonly #keeper: PoolKeeper;
  /** Retired rows the last reap found gone: forgotten by the next transaction that allocates. */
  #goneRows: string[] = [];
  /** Networks whose spare a take could not replace (see `short`). */
  readonly #short = new Set<string>();
  readonly size: number;

  constructor(options: NetnsPoolOptions) {
    this.#store = options.store;
    this.#dir = join(options.runDir, 'netns-pool');
    this.#tag = options.tag;
    this.#bootId = options.bootId;
    this.#keeper = new PoolKeeper(this.#dir);
    this.size = options.size;
  }

  #file(netns: string, suffix: (typeof ROW_FILES)[number]): string {
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

  /** A spare still being made: not ready, not failed, young, and its process (if any yet) alive. */
  #making(spare: PoolRecord, now: number): boolean {
    if (existsSync(this.#file(spare.netns, 'ready')) || existsSync(this.#file(spare.netns, 'failed'))) {
      return false;
    }
    return now - spare.created < SPARE_TIMEOUT_MS && (spare.pid === 0 || isProcessAlive(spare.pid));
  }

  /** Whether the namespace and the host ends of these rows are gone from the kernel. */
  #gone(netns: string, rows: ReadonlyArray<Pick<PoolRecord, 'hostVeth'>>): boolean {
    return !existsSync(join(NETNS_DIR, netns)) && rows.every((r) => !linkExists(r.hostVeth));
  }

  /** The row's marker files (`all`: also those older versions wrote, for a drain). */
  #forgetFiles(netns: string, all = false): void {
    for (const suffix of all ? ROW_FILES : (['ready', 'failed'] as const))
      unlinkQuiet(this.#file(netns, suffix));
  }

  /**
   * A ready spare of `network`, taken out of the pool for a container: its sandbox row is made
   * from `sandbox` (in `state`) and the spares replacing it are recorded in the same transaction,
   * then handed to the keeper. Waits a little for a spare still being made (it is nearly done,
   * and waiting keeps addresses in order); undefined when there is none.
   */
  async take(
    network: NetworkRecord,
    sandbox: Parameters<NetworkStore['claimSpare']>[1],
    state: Parameters<NetworkStore['claimSpare']>[3] = 'attaching',
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
          const keeper = this.#keeper.pid();
          let made: PoolRecord[] = [];
          const claimed = this.#store.db.write(() => {
            if (!this.#store.claimSpare(spare, sandbox, join(NETNS_DIR, spare.netns), state)) return false;
            try {
              made = this.#insertSpares(network, keeper);
            } catch {
              // a full subnet: the claim stands, the pool stays short (see `short`)
              this.#short.add(network.id);
            }
            return true;
          });
          if (claimed) {
            unlinkQuiet(this.#file(spare.netns, 'ready'));
            this.#sendMakes(made, network, keeper);
            return spare;
          }
          continue;
        }
        if (this.#making(spare, Date.now())) waiting = true;
      }
      if (!waiting || Date.now() > deadline) return undefined;
      await sleep(5);
    }
  }

  /**
   * Records and hands the keeper spares to make until `network` has `size` spares, made or
   * being made. Never throws: with a full subnet or a busy database the next attach makes its
   * namespace itself. Returns false when it could not record them.
   */
  fill(network: NetworkRecord): boolean {
    if (this.size === 0) return true;
    try {
      this.reap();
      const keeper = this.#keeper.pid();
      const made = this.#store.db.write(() => this.#insertSpares(network, keeper));
      this.#sendMakes(made, network, keeper);
      this.#short.delete(network.id);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether a take from this network could not record the spare replacing the one it took. */
  short(network: NetworkRecord): boolean {
    return this.#short.has(network.id);
  }

  /**
   * Inserts spare rows (addresses taken, `pid` the keeper's) until the network has `size`, after
   * forgetting the retired rows the last reap found gone (their addresses count as free only
   * then). Call inside `db.write`.
   */
  #insertSpares(network: NetworkRecord, pid: number): PoolRecord[] {
    const forget = this.#goneRows;
    this.#goneRows = [];
    this.#store.deletePools(forget);
    for (const name of forget) this.#forgetFiles(name);
    const have = this.#store.listPool(network.id).filter((row) => row.state === 'spare').length;
    const made: PoolRecord[] = [];
    for (let i = have; i < this.size; i++) {
      made.push(
        this.#store.insertSpare({
          netns: `wharf-${this.#tag}-${randomHex(6)}`,
          hostVeth: `wh${randomHex(6).slice(0, 11)}`,
          network,
          bootId: this.#bootId,
          pid,
        }),
      );
    }
    return made;
  }

  /** Hands the rows just recorded to the keeper (rows first, then the kernel work). */
  #sendMakes(made: readonly PoolRecord[], network: NetworkRecord, keeper: number): void {
    if (made.length === 0) return;
    const pid = this.#keeper.send(
      made.map((spare) => makeCommand(spare.netns, spareBatches(spare, network))),
    );
    for (const spare of made) {
      // nothing will make it (no process could be started): the row goes
      if (pid === 0) this.#store.deletePool(spare.netns);
      else if (pid !== keeper) this.#store.setPoolPid(spare.netns, pid);
    }
  }

  /**
   * Deletes a detached container's namespace in the background: `retired` lists its interfaces
   * (rows written first, then the keeper is told). The caller has removed its port rules.
   */
  retire(containerId: string, retired: ReadonlyArray<Omit<PoolRecord, 'state' | 'pid'>>): void {
    const first = retired[0];
    if (!first) return;
    const keeper = this.#keeper.pid();
    this.#store.retireSandbox(containerId, retired, keeper);
    this.#deleteInBackground(first.netns, retired, keeper);
  }

  /** Tells the keeper to delete the namespace and veths of these rows; `known` is the rows' pid. */
  #deleteInBackground(netns: string, rows: ReadonlyArray<Pick<PoolRecord, 'hostVeth'>>, known: number): void {
    // -force: whatever is already gone is skipped, so no stat is needed first
    const lines = `${[...rows.map((row) => `link del ${row.hostVeth}`), `netns del ${netns}`].join('\n')}\n`;
    const pid = this.#keeper.send([deleteCommand(netns, lines)]);
    if (pid !== known) this.#store.setPoolPid(netns, pid);
  }

  /**
   * Gives up spares that failed and deletes again what a lost or failed deletion left (no write
   * unless something went wrong), and returns the rows to forget: retired namespaces the kernel
   * has let go of (their addresses are free once the rows go) and rows of another boot (the
   * kernel state went with it). Cheap: a query and a few stats. See `release`.
   */
  reap(): string[] {
    const now = Date.now();
    const byNetns = new Map<string, PoolRecord[]>();
    for (const row of this.#store.listPool()) {
      byNetns.set(row.netns, [...(byNetns.get(row.netns) ?? []), row]);
    }
    const forget: string[] = [];
    for (const [netns, rows] of byNetns) {
      const row = rows[0]!;
      if (row.bootId !== this.#bootId) {
        forget.push(netns);
        continue;
      }
      if (row.state === 'retired') {
        if (this.#gone(netns, rows)) {
          forget.push(netns);
        } else if (
          now - row.created > RETRY_AFTER_MS &&
          (!isProcessAlive(row.pid) || now - row.created > SPARE_TIMEOUT_MS)
        ) {
          // bumps `created`: one retry per period, not one per reap
          this.#store.retirePool(netns, now);
          this.#deleteInBackground(netns, rows, row.pid);
        }
        continue;
      }
      const ready = existsSync(this.#file(netns, 'ready'));
      const failed = !ready && !this.#making(row, now);
      if (failed || (ready && this.#gone(netns, rows))) {
        this.#store.retirePool(netns, now);
        this.#deleteInBackground(netns, rows, row.pid);
      }
    }
    this.#goneRows = forget;
    return forget;
  }

  /** Reaps, and forgets the rows that may go (one transaction): addresses are free after it. */
  release(): void {
    this.#forget(this.reap());
    this.#goneRows = [];
  }

  #forget(netns: readonly string[]): void {
    if (netns.length === 0) return;
    this.#store.deletePools(netns);
    for (const name of netns) this.#forgetFiles(name);
  }

  /** Whether the work handed over for this row is still under way. */
  #busy(rows: readonly PoolRecord[], now: number): boolean {
    return rows.some((row) =>
      row.state === 'spare'
        ? this.#making(row, now)
        : isProcessAlive(row.pid) && !this.#gone(row.netns, [row]),
    );
  }

  /** Waits (up to `ms`) until the work under way for these rows is done. */
  async #waitForWork(rows: readonly PoolRecord[], ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.#busy(rows, Date.now()) && Date.now() < deadline) await sleep(10);
  }

  /** Waits for the work under way, then reaps: what tests call before looking at the host. */
  async settle(): Promise<void> {
    await this.#waitForWork(this.#store.listPool());
    this.release();
    await this.#waitForWork(this.#store.listPool());
    this.release();
  }

  /**
   * Deletes the namespaces of the pool (those `which` picks, or all) now, spares and retired
   * alike, after the work under way on them is done; their addresses are free when it returns.
   */
  async drain(which: (row: PoolRecord) => boolean = () => true): Promise<void> {
    const rows = this.#store.listPool().filter(which);
    if (rows.length === 0) return;
    await this.#waitForWork(rows);
    const byNetns = new Map<string, PoolRecord[]>();
    for (const row of rows) byNetns.set(row.netns, [...(byNetns.get(row.netns) ?? []), row]);
    const lines = [...byNetns].map(([netns, list]) => deleteBatch(netns, list)).join('');
    if (lines) await hostExecRaw('ip', ['-force', '-b', '-'], { input: lines });
    for (const netns of byNetns.keys()) {
      if (existsSync(join(NETNS_DIR, netns))) {
        await hostExecRaw('ip', ['netns', 'del', netns]);
      }
    }
    this.#store.deletePools([...byNetns.keys()]);
    for (const netns of byNetns.keys()) this.#forgetFiles(netns, true);
  }

  /** Stops the root's keeper once its work is done (destroyAll: no process is left). */
  async stopKeeper(): Promise<void> {
    await this.#keeper.stop();
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
