/**
 * `Accept` negotiation for manifest GETs. A registry stores manifests byte for byte and converts
 * nothing, so negotiation is only "may I send this type?": yes when the client sent no `Accept`,
 * a wildcard, or the type itself (parameters and `q` ignored, except `q=0`, which refuses). The
 * answer to "no" is 404 MANIFEST_UNKNOWN, as distribution gives a client that cannot read OCI.
 *
 * @example
 * acceptsMediaType(['application/vnd.oci.image.index.v1+json, application/json'], MediaType.OciIndex); // true
 */

/** Whether the `Accept` header values (one per header line, comma-separated) admit `mediaType`. */
export function acceptsMediaType(accept: string | string[] | undefined, mediaType: string): boolean {
  if (accept === undefined) return true;
  const lines = typeof accept === 'string' ? [accept] : accept;
  let any = false;
  const [type] = mediaType.split('/');
  for (const line of lines) {
    for (const entry of line.split(',')) {
      const parts = entry.split(';');
      const range = parts[0]!.trim().toLowerCase();
      if (range === '') continue;
      any = true;
      const refused = parts.slice(1).some((param) => /^\s*q\s*=\s*0(?:\.0*)?\s*$/.test(param));
      if (refused) continue;
      if (range === '*/*' || range === mediaType || range === `${type}/*`) return true;
    }
  }
  return !any;
}
