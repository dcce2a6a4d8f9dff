/**
 * Hijacked connections: `attach` and `exec/{id}/start` take over the TCP/unix connection and
 * carry the process's stdio over it. The docker CLI asks for it with `Connection: Upgrade`,
 * `Upgrade: tcp` and gets `101 UPGRADED`; Node delivers those requests on the server's `upgrade`
 * event (Fastify or a normal request handler never see them), with the bytes read past the
 * headers in `head`. Clients that do not ask to upgrade (dockerode without `hijack`) get a 200
 * and a plain response body instead, and send no stdin.
 *
 * Without a TTY, output is multiplexed: each frame is an 8-byte header (stream type 0 stdin,
 * 1 stdout, 2 stderr, 3 system error; three zero bytes; the payload size as big-endian uint32)
 * and the payload. With a TTY, output is raw.
 *
 * The client closes its write side when stdin ends (`docker run -i` with a finite stdin) and
 * keeps reading: the server sockets allow half-open connections, so output keeps flowing until
 * the session calls `close()`.
 *
 * @example
 * run: async (connection) => {
 *   connection.output.write(frame('stdout', Buffer.from('hello\n')));
 *   connection.close();
 * }
 */
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

export interface HijackedConnection {
  /**
   * What the client sends after the request (stdin); null when the client did not upgrade. It
   * ends when the client closes its write side; consuming or destroying it leaves the output open.
   */
  readonly input: Readable | null;
  /** Bytes to the client: frames (multiplexed) or raw bytes (TTY). */
  readonly output: Writable;
  /** Aborted when the client disconnects or the server shuts down. */
  readonly signal: AbortSignal;
  /** Ends the session: flushes the output and closes the connection. */
  close(): void;
}

export type StdStream = 'stdin' | 'stdout' | 'stderr' | 'systemerr';

const STREAM_TYPE: Record<StdStream, number> = { stdin: 0, stdout: 1, stderr: 2, systemerr: 3 };

/** One frame of Docker's multiplexed stream. */
export function frame(stream: StdStream, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAM_TYPE[stream];
  header.writeUInt32BE(payload.byteLength, 4);
  return Buffer.concat([header, payload]);
}

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/**
 * Reads exactly `length` bytes of a request body from an upgraded socket (the `head` bytes
 * first), and leaves whatever follows (the first stdin bytes) readable on the socket.
 */
export async function readUpgradeBody(socket: Socket, head: Buffer, length: number): Promise<Buffer> {
  if (head.length > 0) socket.unshift(head);
  const chunks: Buffer[] = [];
  let got = 0;
  while (got < length) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      await new Promise<void>((resolve, reject) => {
        const cleanup = () => {
          socket.off('readable', onReadable);
          socket.off('end', onEnd);
          socket.off('close', onEnd);
        };
        const onReadable = () => {
          cleanup();
          resolve();
        };
        const onEnd = () => {
          cleanup();
          reject(new Error('Cannot read the request body: the client closed the connection'));
        };
        socket.on('readable', onReadable);
        socket.on('end', onEnd);
        socket.on('close', onEnd);
      });
      continue;
    }
    const need = length - got;
    if (chunk.length > need) {
      chunks.push(chunk.subarray(0, need));
      socket.unshift(chunk.subarray(need));
      got = length;
    } else {
      chunks.push(chunk);
      got += chunk.length;
    }
  }
  return Buffer.concat(chunks);
}
