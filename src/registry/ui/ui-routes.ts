/**
 * The routes of the read-only web UI, registered beside `/v2/` (never through it, so the
 * distribution API and its errors are untouched):
 *
 *   GET /                          302 to /ui/
 *   GET /ui/?last=NAME             repositories the viewer may see, by project, 100 a page
 *   GET /ui/login                  401 with a Basic challenge until the browser sends good credentials, then 303 to /ui/
 *   GET /ui/r/NAME?last=TAG        a repository's tags
 *   GET /ui/r/NAME/m/DIGEST        one manifest (with its vulnerability report when the registry scans)
 *
 * Access is the registry's (viewer.ts). A repository the viewer may not pull answers the same
 * 404 as one that does not exist, so its name is never confirmed; bad credentials answer 401 so
 * the browser asks again. Pages are HTML under a script-free Content-Security-Policy.
 *
 * @example
 * registerUiRoutes(app, { access, reader });
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Digest, isDigest } from '../../oci/digest.ts';
import { isValidRepositoryName } from '../../oci/reference.ts';
import type { AccessController } from '../auth/access-controller.ts';
import { projectOf } from '../project-name.ts';
import type { ScanService } from '../scan/scan-service.ts';
import type { CatalogReader } from './catalog-reader.ts';
import { html } from './html.ts';
import { renderIndexPage } from './index-page.ts';
import { renderPage, UI_HEADERS } from './layout.ts';
import { renderManifestPage } from './manifest-page.ts';
import { renderRepositoryPage } from './repository-page.ts';
import { BASIC_CHALLENGE, resolveViewer, UiUnauthorizedError, type Viewer } from './viewer.ts';

export interface UiRoutesOptions {
  access: AccessController;
  reader: CatalogReader;
  /** The vulnerability reports of manifest pages; absent when the registry does not scan. */
  scans?: Pick<ScanService, 'view'>;
  /** Entries per page of repositories or tags (default 100). */
  pageSize?: number;
}

export const DEFAULT_PAGE_SIZE = 100;
/** Longer cursors are not names the registry could hold: ignored. */
const CURSOR_MAX = 512;

type Target =
  | { kind: 'repository'; repository: string }
  | { kind: 'manifest'; repository: string; digest: Digest };

export function registerUiRoutes(app: FastifyInstance, options: UiRoutesOptions): void {
  const { access, reader } = options;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;

  /** Runs a page handler for the request's viewer; renders the UI's own 401 and 404 pages. */
  const page =
    (
      handler: (viewer: Viewer, request: FastifyRequest, reply: FastifyReply) => Promise<string | undefined>,
    ) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      reply.headers(UI_HEADERS);
      let viewer: Viewer;
      try {
        viewer = await resolveViewer(access, request.headers);
      } catch (error) {
        if (!(error instanceof UiUnauthorizedError)) throw error;
        return unauthorized(reply, error.message);
      }
      const body = await handler(viewer, request, reply);
      if (reply.sent) return reply;
      if (body === undefined) return notFound(reply, viewer);
      return reply.code(200).type('text/html; charset=utf-8').send(body);
    };

  app.get('/', (_request, reply) => reply.redirect('/ui/', 302));
  app.get('/ui', (_request, reply) => reply.redirect('/ui/', 302));

  app.get(
    '/ui/',
    page(async (viewer, request) => {
      const after = cursorOf(request);
      const result = await reader.repositories({
        projects: await viewer.visibleProjects(),
        limit: pageSize,
        ...(after !== undefined ? { after } : {}),
      });
      return renderIndexPage({ viewer: viewer.name, page: result, after });
    }),
  );

  app.get(
    '/ui/login',
    page(async (viewer, _request, reply) => {
      // Signed in (or nothing to sign in to): back to the list, now with the browser's credentials.
      if (viewer.name !== undefined || !(await access.enforced())) {
        reply.redirect('/ui/', 303);
        return '';
      }
      unauthorized(reply, 'Sign in with your registry user name and password (or a robot account).');
      return '';
    }),
  );

  app.get(
    '/ui/r/*',
    page(async (viewer, request) => {
      const target = targetOf(request.url);
      if (!target || !(await viewer.canPull(target.repository))) return undefined;
      if (target.kind === 'manifest') {
        const manifest = await reader.manifest(target.repository, target.digest);
        if (!manifest) return undefined;
        const scan = await options.scans?.view(target.digest);
        return renderManifestPage({
          viewer: viewer.name,
          repository: target.repository,
          ...manifest,
          ...(scan ? { scan } : {}),
        });
      }
      const after = cursorOf(request);
      const result = await reader.tags(target.repository, {
        limit: pageSize,
        ...(after !== undefined ? { after } : {}),
      });
      if (!result) return undefined;
      return renderRepositoryPage({
        viewer: viewer.name,
        repository: target.repository,
        visibility: await reader.visibility(projectOf(target.repository)),
        page: result,
        after,
      });
    }),
  );

  app.get(
    '/ui/*',
    page(async () => undefined),
  );
}

function asDigest(value: string): Digest | undefined {
  return isDigest(value) ? value : undefined;
}

/** The repository (and manifest digest) a `/ui/r/...` path names; undefined for anything else. */
function targetOf(url: string): Target | undefined {
  const question = url.indexOf('?');
  const path = (question < 0 ? url : url.slice(0, question)).slice('/ui/r/'.length);
  let parts: string[];
  try {
    parts = path.split('/').map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
  const digest = parts.length >= 3 && parts.at(-2) === 'm' ? asDigest(parts.at(-1)!) : undefined;
  // A repository name has no ':', so a trailing `m/<digest>` can only be a manifest's address.
  const repository = (digest !== undefined ? parts.slice(0, -2) : parts).join('/');
  if (!isValidRepositoryName(repository)) return undefined;
  return digest !== undefined ? { kind: 'manifest', repository, digest } : { kind: 'repository', repository };
}

function cursorOf(request: FastifyRequest): string | undefined {
  const value = (request.query as Record<string, unknown> | undefined)?.last;
  return typeof value === 'string' && value !== '' && value.length <= CURSOR_MAX ? value : undefined;
}

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', BASIC_CHALLENGE)
    .type('text/html; charset=utf-8')
    .send(
      renderPage({
        title: 'Sign in',
        crumbs: [{ label: 'Sign in' }],
        viewer: undefined,
        content: html`<h1>Sign in</h1><p>${message}</p>`,
      }),
    );
}

/** The same answer whether the page does not exist or the viewer may not see it. */
function notFound(reply: FastifyReply, viewer: Viewer): FastifyReply {
  const hint =
    viewer.name === undefined ? html` Private repositories need you to <a href="/ui/login">log in</a>.` : '';
  return reply
    .code(404)
    .type('text/html; charset=utf-8')
    .send(
      renderPage({
        title: 'Not found',
        crumbs: [{ label: 'Not found' }],
        viewer: viewer.name,
        content: html`<h1>Not found</h1><p>There is no such repository or manifest, or you may not see it.${hint}</p>`,
      }),
    );
}
