/**
 * The contract between the HTTP front and access control: what a request asks for, what an
 * allowed request may see, and the hook that decides (auth/access-controller.ts implements it).
 *
 * @example
 * const grant = await authorize({ action: 'pull', repository: 'team/app', method: 'GET', headers });
 */
import type { FastifyRequest } from 'fastify';

/** What a request wants to do, for the access-control hook. */
export interface AccessRequest {
  /** `pull` (GET/HEAD), `push` (POST/PATCH/PUT), `delete`, or `catalog` (listing repositories). */
  action: 'ping' | 'pull' | 'push' | 'delete' | 'catalog';
  /** The repository named by the path, if any. */
  repository?: string;
  method: string;
  headers: FastifyRequest['headers'];
  /** The request's `Host`, for the token realm of challenges. */
  host?: string;
  protocol?: string;
}

/** What an allowed request may see beyond its own repository; handlers filter by it. */
export interface AccessGrant {
  /** Whether the caller may pull from `repository` (the source of a cross-repository mount). */
  canPull(repository: string): Promise<boolean>;
  /** Projects whose repositories the caller may see (`_catalog`, mounts without `from`); undefined: all. */
  visibleProjects(): Promise<readonly string[] | undefined>;
}

/**
 * Decides whether a request may proceed; throws RegistryError (UNAUTHORIZED with a
 * `WWW-Authenticate` header, or DENIED) to refuse. Absent: anonymous push and pull.
 */
export type AuthorizeHook = (access: AccessRequest) => Promise<AccessGrant> | AccessGrant;
