/**
 * Byte and packet counters of a process's network interfaces, from `/proc/PID/net/dev` (which
 * lists the interfaces of that process's network namespace), for `stats`: Docker's `networks`
 * map (`{ eth0: { rx_bytes, rx_packets, rx_errors, rx_dropped, tx_bytes, ... } }`), which
 * libnetwork fills from the container's endpoints, so the loopback interface is left out.
 *
 * @example
 * const networks = await readInterfaceStats(record.pid); // { eth0: { rxBytes: 1682, ... } }
 */
import { readFile } from 'node:fs/promises';
import { isErrno } from '../errors/index.ts';

export interface InterfaceCounters {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/**
 * Parses `/proc/net/dev`: two header lines, then `NAME: ` and 16 counters (8 received: bytes
 * packets errs drop fifo frame compressed multicast; 8 sent: bytes packets errs drop fifo colls
 * carrier compressed). `lo` is left out.
 *
 * @example
 * parseNetDev(text).eth0?.rxBytes; // 1682
 */
export function parseNetDev(text: string): Record<string, InterfaceCounters> {
  const result: Record<string, InterfaceCounters> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    // the header lines have `|` before any colon, or words where counters go
    if (name === '' || name.includes('|') || name === 'lo' || fields.length < 16) continue;
    if (fields.some((field) => !Number.isFinite(field))) continue;
    const at = (index: number) => fields[index] ?? 0;
    result[name] = {
      rxBytes: at(0),
      rxPackets: at(1),
      rxErrors: at(2),
      rxDropped: at(3),
      txBytes: at(8),
      txPackets: at(9),
      txErrors: at(10),
      txDropped: at(11),
    };
  }
  return result;
}

/** The interfaces of `pid`'s network namespace but `lo`; undefined when the process is gone. */
export async function readInterfaceStats(
  pid: number,
): Promise<Record<string, InterfaceCounters> | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseNetDev(await readFile(`/proc/${pid}/net/dev`, 'utf8'));
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ESRCH')) return undefined;
    throw error;
  }
}
