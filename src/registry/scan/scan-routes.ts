/**
 * The vulnerability API (docs/registry-scan.md), in the style of the admin API: JSON in Wharf's
 * own `/api/v1` namespace, errors as `{"errors":[{code,message}]}`.
 *
 *   POST /api/v1/repositories/{name}/manifests/{reference}/scan             202 {digest, status}
 *   GET  /api/v1/repositories/{name}/manifests/{reference}/vulnerabilities  200 the report
 *        (`wharf image scan --format json`'s shape, plus Digest, Database, ScannedAt, Status);
 *        404 {status: "not scanned"|"queued"|"running"|"failed", errors} while there is none
 *
 * Access is the registry's own, through the same hook as `/v2/`: reading a report is a pull of
 * the repository; starting a scan needs pull and push (a project developer, or an admin). Pull is
 * checked before the manifest is looked up, so a caller who may not read the repository learns
 * nothing of what it holds. Without a database configured both answer 501 UNSUPPORTED.
 *
 * @example
 * registerScanRoutes(app, { authorize, manifests, scans });
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WharfError } from '../../errors/index.ts';
import { RegistryError } from '../errcode.ts';
import type { AccessRequest, AuthorizeHook } from '../http/access.ts';
import { apiError, json } from '../http/admin-routes.ts';
import { sendError } from '../http/registry-app.ts';
import { checkName, parseManifestReference } from '../http/route.ts';
import type { ManifestService } from '../manifest-service.ts';
import type { ScanService } from './scan-service.ts';

export interface ScanRoutesOptions {
  authorize: AuthorizeHook;
  manifests: ManifestService;
  /** Absent: scanning is not configured (every call answers 501). */
  scans: ScanService | undefined;
}

const TARGET = /^\/api\/v1\/repositories\/(.+)\/manifests\/([^/]+)\/(scan|vulnerabilities)$/;

type Action = 'scan' | 'vulnerabilities';

export function registerScanRoutes(app: FastifyInstance, options: ScanRoutesOptions): void {
  const { authorize, manifests, scans } = options;

  const route = (action: Action) => async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const path = request.url.split('?')[0] ?? '';
      const match = TARGET.exec(path);
      if (!match || match[3] !== action) {
        throw new RegistryError('UNSUPPORTED', {
          status: 404,
          message: `no endpoint at ${request.method} ${path}`,
        });
      }
      if (!scans) {
        throw new RegistryError('UNSUPPORTED', {
          status: 501,
          message:
            'Cannot scan: vulnerability scanning is not configured on this registry (give it an OSV database: "scan": {"db": DIR} in the config file, or --scan-db DIR)',
        });
      }
      const name = checkName(decode(match[1]!));
      const reference = parseManifestReference(decode(match[2]!));
      const access = (wanted: 'pull' | 'push'): AccessRequest => {
        const entry: AccessRequest = {
          action: wanted,
          repository: name,
          method: request.method,
          headers: request.headers,
          protocol: request.protocol,
        };
        if (request.headers.host !== undefined) entry.host = request.headers.host;
        return entry;
      };
      await authorize(access('pull'));
      const record = await manifests.stat(name, reference);
      if (!record) throw new RegistryError('MANIFEST_UNKNOWN', { detail: reference });

      if (action === 'scan') {
        await authorize(access('push'));
        const state = scans.request(name, record.digest);
        return json(reply, 202, { digest: record.digest, status: state.status });
      }
      const view = await scans.view(record.digest);
      if (view.status !== 'complete') {
        const why =
          view.status === 'failed'
            ? `the last scan failed: ${view.error}`
            : view.status === 'not scanned'
              ? `not scanned yet (POST .../scan to scan it)`
              : `a scan is ${view.status}`;
        return json(reply, 404, {
          status: view.status,
          errors: [
            {
              code: 'NOT_FOUND',
              message: `Cannot read the vulnerability report of ${name}@${record.digest}: ${why}`,
            },
          ],
        });
      }
      const status = view.rescan?.status ?? 'complete';
      return json(reply, 200, {
        ...view.report,
        Image: `${name}@${record.digest}`,
        Digest: record.digest,
        MediaType: record.mediaType,
        Database: view.database,
        ScannedAt: view.scannedAt.toISOString(),
        Status: status,
        ...(view.rescan?.status === 'failed' ? { Error: view.rescan.error } : {}),
      });
    } catch (error) {
      if (error instanceof RegistryError) return sendError(reply, error);
      if (error instanceof WharfError) return apiError(reply, error);
      throw error;
    }
  };

  app.post('/api/v1/repositories/*', route('scan'));
  app.get('/api/v1/repositories/*', route('vulnerabilities'));
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // left encoded: the grammar checks refuse it
  }
}
