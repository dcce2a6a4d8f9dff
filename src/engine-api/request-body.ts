/**
 * Request bodies read whole (JSON documents: container create, exec create, network connect).
 * Parsing is lenient, as the docker CLI needs: it sends fields newer than the API version it
 * negotiated (`DNSNames`, `GwPriority` at 1.41), so unknown fields are kept for the route to
 * ignore, and an empty body is `undefined` rather than an error. Tars (load, import, build) are
 * streamed, never read whole.
 *
 * @example
 * const body = parseJsonBody(await readBody(request));
 */
import type { Readable } from 'node:stream';
import { HttpError } from './http-error.ts';

/** JSON bodies larger than this are refused (Docker's create bodies are a few KiB). */
export const JSON_BODY_LIMIT = 16 * 1024 * 1024;

export async function readBody(stream: Readable, limit = JSON_BODY_LIMIT): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) {
      stream.destroy();
      throw new HttpError(413, `Cannot read the request body: larger than ${limit} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

export function parseJsonBody(bytes: Buffer): unknown {
  const textBody = bytes.toString('utf8').trim();
  if (textBody === '') return undefined;
  try {
    return JSON.parse(textBody);
  } catch (error) {
    throw new HttpError(400, `Cannot parse the request body: invalid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
