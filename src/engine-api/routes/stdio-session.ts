/**
 * The hijacked side of `attach` and `exec start`, shared by the container and exec route groups.
 * The backend validates first (404 for a missing container, 409 for a stopped one) and only then
 * returns a session; the route hijacks the connection and hands it over.
 */
import type { HijackedConnection } from '../hijack.ts';

export interface StdioSession {
  /** With a TTY the output is raw; without, multiplexed (src/engine-api/hijack.ts `frame`). */
  tty: boolean;
  /**
   * Runs until the session ends: copies `connection.input` to the process's stdin (if attached),
   * the process's output to `connection.output`, honours detach keys, then calls
   * `connection.close()`. Must stop and release everything when `connection.signal` aborts.
   */
  run(connection: HijackedConnection): Promise<void>;
}
