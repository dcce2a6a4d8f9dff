/**
 * Image references with Docker's grammar, normalized exactly as `distribution/reference` does
 * (ParseNormalizedNamed, ParseDockerRef, ParseAnyReference, FamiliarString), plus the OCI
 * distribution spec's repository-name and tag patterns for the registry's routes.
 *
 *   reference       := name [ ":" tag ] [ "@" digest ]
 *   name            := [domain '/'] remote-name
 *   domain          := host [':' port-number]
 *   host            := domain-name | IPv4address | \[ IPv6address \]
 *   domain-name     := domain-component ['.' domain-component]*
 *   domain-component:= /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   remote-name     := path-component ['/' path-component]*
 *   path-component  := alpha-numeric [separator alpha-numeric]*
 *   alpha-numeric   := /[a-z0-9]+/
 *   separator       := /[_.]|__|[-]+/
 *   tag             := /[\w][\w.-]{0,127}/
 *   digest          := algorithm ":" hex (at least 32 hex digits)
 *
 * @example
 * const ref = parseNormalizedReference('busybox');
 * formatReference(withDefaultTag(ref)); // 'docker.io/library/busybox:latest'
 * familiarString(ref);                   // 'busybox'
 */
import { InvalidArgumentError } from '../errors/index.ts';
import { type Digest, parseDigest } from './digest.ts';

/** A parsed reference: repository (domain + path) with an optional tag and digest. */
export interface Reference {
  /** The registry host (and port), e.g. `docker.io`, `localhost:5000`; '' only from `parseReference`. */
  readonly domain: string;
  /** The repository path within the registry, e.g. `library/busybox`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** The longest repository path distribution accepts. */
export const REPOSITORY_PATH_MAX = 255;

// The productions of distribution/reference's regexp.go.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePattern = `(?:${domainAndPort}/)?${remoteName}`;

const REFERENCE_RE = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const ANCHORED_TAG_RE = new RegExp(`^${tagPattern}$`);
const ANCHORED_IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const DOMAIN_RE = new RegExp(`^${domainAndPort}$`);

/**
 * The OCI distribution spec's `<name>` pattern (repository names in registry URLs). Looser than
 * Docker's separator rules only where the spec says so; it has no domain part.
 */
export const OCI_REPOSITORY_NAME_RE =
  /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
/** The OCI distribution spec's `<reference>` pattern for tags. */
export const OCI_TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** True when `name` is a repository name the OCI distribution spec accepts (at most 255 characters). */
export function isValidRepositoryName(name: string): boolean {
  return name.length <= REPOSITORY_PATH_MAX && OCI_REPOSITORY_NAME_RE.test(name);
}

/** True when `tag` is a valid tag (`[\w][\w.-]{0,127}`). */
export function isValidTag(tag: string): boolean {
  return ANCHORED_TAG_RE.test(tag);
}

/** True when `value` is a registry host with optional port (`localhost:5000`, `[::1]:5000`). */
export function isValidDomain(value: string): boolean {
  return DOMAIN_RE.test(value);
}

/** True for a bare 64-hex image id, which Docker refuses as a repository name. */
export function isIdentifier(value: string): boolean {
  return ANCHORED_IDENTIFIER_RE.test(value);
}

/**
 * A reference that does not parse. `reason` is distribution's own text (`invalid reference
 * format`...), for front ends that word the error as Docker's tools do around it.
 */
export class ReferenceFormatError extends InvalidArgumentError {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`Cannot parse reference "${input}": ${reason}`);
    // still an InvalidArgumentError by name, as callers and their tests know it
    this.name = 'InvalidArgumentError';
  }
}

function invalid(input: string, reason: string): ReferenceFormatError {
  return new ReferenceFormatError(input, reason);
}

function checkDigest(input: string, value: string): Digest {
  try {
    parseDigest(value);
  } catch (error) {
    // go-digest's messages, which the docker CLI prints
    const message = (error as Error).message;
    const reason = message.includes('unsupported algorithm')
      ? 'unsupported digest algorithm'
      : message.includes('hex characters') && /^[a-z0-9]+:[a-f0-9]*$/.test(value)
        ? 'invalid checksum digest length'
        : 'invalid checksum digest format';
    throw invalid(input, reason);
  }
  return value as Digest;
}

/**
 * Parses a reference without normalizing it (distribution's `Parse`): `busybox` has an empty
 * domain here. Most callers want `parseNormalizedReference`.
 */
export function parseReference(input: string): Reference {
  if (input === '') throw invalid(input, 'repository name must have at least one component');
  const match = REFERENCE_RE.exec(input);
  if (!match) {
    const lower = input.toLowerCase();
    if (lower !== input && REFERENCE_RE.test(lower))
      throw invalid(input, 'repository name must be lowercase');
    throw invalid(input, 'invalid reference format');
  }
  const name = match[1]!;
  const nameMatch = ANCHORED_NAME_RE.exec(name);
  const domain = nameMatch?.[1] ?? '';
  const path = nameMatch?.[2] ?? name;
  if (path.length > REPOSITORY_PATH_MAX) {
    throw invalid(input, `repository name must not be more than ${REPOSITORY_PATH_MAX} characters`);
  }
  const ref: { domain: string; path: string; tag?: string; digest?: Digest } = { domain, path };
  if (match[2]) ref.tag = match[2];
  if (match[3]) ref.digest = checkDigest(input, match[3]);
  return ref;
}

/** Splits a familiar name into domain and remainder as Docker does (`splitDockerDomain`). */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  let domain: string;
  let remainder: string;
  if (slash < 0) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  const maybeDomain = name.slice(0, slash);
  const maybeRemainder = name.slice(slash + 1);
  if (maybeDomain === 'localhost') {
    domain = maybeDomain;
    remainder = maybeRemainder;
  } else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) {
    domain = DEFAULT_DOMAIN;
    remainder = maybeRemainder;
  } else if (/[.:]/.test(maybeDomain) || maybeDomain.toLowerCase() !== maybeDomain) {
    domain = maybeDomain;
    remainder = maybeRemainder;
  } else {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parses a name as the Docker CLI does (`ParseNormalizedNamed`): adds `docker.io` and `library/`
 * where Docker would, keeps any tag and digest, adds no default tag. Throws InvalidArgumentError
 * with Docker's reason (`invalid reference format`, `repository name (library/Busybox) must be
 * lowercase`, `cannot specify 64-byte hexadecimal strings`...).
 *
 * @example
 * parseNormalizedReference('localhost:5000/a/b:tag'); // { domain: 'localhost:5000', path: 'a/b', tag: 'tag' }
 */
export function parseNormalizedReference(input: string): Reference {
  if (ANCHORED_IDENTIFIER_RE.test(input)) {
    throw invalid(input, `invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(input);
  const colon = remainder.indexOf(':');
  const remote = colon < 0 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) {
    throw invalid(input, `invalid reference format: repository name (${remote}) must be lowercase`);
  }
  let ref: Reference;
  try {
    ref = parseReference(`${domain}/${remainder}`);
  } catch (error) {
    // say what the user typed, not the docker.io/library/ spelling made from it
    if (error instanceof ReferenceFormatError) throw invalid(input, error.reason);
    throw error;
  }
  if (ref.domain === '' && ref.path === '') throw invalid(input, `reference ${input} has no name`);
  return ref;
}

/**
 * Docker's `ParseDockerRef`: normalized, `latest` added when there is neither tag nor digest, and
 * the tag dropped when a digest is present (the digest is what identifies the content).
 *
 * @example
 * formatReference(parseDockerRef('busybox:1@sha256:…')); // 'docker.io/library/busybox@sha256:…'
 */
export function parseDockerRef(input: string): Reference {
  const ref = parseNormalizedReference(input);
  if (ref.digest !== undefined) return { domain: ref.domain, path: ref.path, digest: ref.digest };
  return withDefaultTag(ref);
}

/** The result of `parseAnyReference`: an image id / digest, or a named reference. */
export type AnyReference = { kind: 'digest'; digest: Digest } | { kind: 'named'; reference: Reference };

/**
 * Docker's `ParseAnyReference`: a bare 64-hex id or a full `sha256:…` digest is a digest
 * reference (an image id); anything else is parsed as a normalized name.
 */
export function parseAnyReference(input: string): AnyReference {
  if (ANCHORED_IDENTIFIER_RE.test(input)) return { kind: 'digest', digest: `sha256:${input}` };
  try {
    parseDigest(input);
    return { kind: 'digest', digest: input as Digest };
  } catch {
    return { kind: 'named', reference: parseNormalizedReference(input) };
  }
}

/** Adds the `latest` tag to a name that has neither tag nor digest (`TagNameOnly`). */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag === undefined && ref.digest === undefined) return { ...ref, tag: DEFAULT_TAG };
  return ref;
}

/** A copy with a different tag; throws on an invalid tag. */
export function withTag(ref: Reference, tag: string): Reference {
  if (!isValidTag(tag)) throw invalid(tag, 'invalid tag format');
  const out: { domain: string; path: string; tag: string; digest?: Digest } = {
    domain: ref.domain,
    path: ref.path,
    tag,
  };
  if (ref.digest !== undefined) out.digest = ref.digest;
  return out;
}

/** A copy with a digest (keeping any tag). */
export function withDigest(ref: Reference, digest: Digest): Reference {
  return { ...ref, digest: checkDigest(digest, digest) };
}

/** The repository only, no tag, no digest (`TrimNamed`). */
export function trimReference(ref: Reference): Reference {
  return { domain: ref.domain, path: ref.path };
}

/** `domain/path`, the full repository name (`docker.io/library/busybox`). */
export function referenceName(ref: Reference): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

/** The full string: `name[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  let out = referenceName(ref);
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** The repository as Docker shows it: `busybox`, `user/app`, `localhost:5000/a/b` (`FamiliarName`). */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return referenceName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

/** The reference as Docker shows it: `busybox:latest`, `busybox@sha256:…` (`FamiliarString`). */
export function familiarString(ref: Reference): string {
  let out = familiarName(ref);
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/**
 * Normalizes any accepted spelling to the canonical full string with a default tag, the key
 * under which tags are stored: `busybox` -> `docker.io/library/busybox:latest`.
 */
export function normalizeReferenceString(input: string): string {
  return formatReference(withDefaultTag(parseNormalizedReference(input)));
}
