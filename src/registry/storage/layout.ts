/**
 * Where the registry keeps bytes in its StorageDriver: every path is computed by `pathFor`, and
 * nothing else in the registry builds a storage path. The layout (driver paths):
 *
 *   /
 *   ├── blobs/                      content-addressed, shared by all repositories
 *   │   ├── sha256/
 *   │   │   ├── 00/ … ff/           first two hex characters: ≤ 256 entries per level, and about
 *   │   │   │   └── ab12…ef         the blob's bytes, named by its encoded digest: layers, configs
 *   │   │   │                       and manifests alike. Only verified bytes arrive here (by `move`
 *   │   │   │                       from an upload or `putContent`), so every file re-hashes to its name
 *   │   └── sha512/
 *   │       └── cd/cd34…            (128 hex characters)
 *   └── uploads/
 *       └── <uuid>/                 one open upload session (POST /v2/<name>/blobs/uploads/)
 *           └── data                bytes received so far, in order; its size is the session's offset
 *
 * What is *not* here: which repository holds which blob or manifest, tags, references and upload
 * sessions' owners. That is metadata (`metadata/`): a repository "has" a blob only when the
 * metadata links it, so a blob file is never visible by being present.
 *
 * Why distribution's shape (one global, content-addressed blob tree; `registry/storage/paths.go`)
 * rather than zot's (a plain OCI image layout per repository): a layer pushed to ten repositories
 * is stored once and a cross-repository mount is a metadata insert, not a copy; and tags and
 * links live in one transactional store instead of each repository's `index.json`, which would
 * be a second source of truth to rewrite (and fsync) on every tag. An OCI layout of any
 * repository can still be exported from blobs + metadata. The two-character fan-out keeps
 * directories small on filesystems and is harmless on object stores (S3 keys).
 *
 * @example
 * pathFor({ kind: 'blob', digest: 'sha256:ab12…' });  // '/blobs/sha256/ab/ab12…'
 * pathFor({ kind: 'upload-data', id: uuid });          // '/uploads/<uuid>/data'
 */
import { InvalidArgumentError } from '../../errors/index.ts';
import { type Digest, type DigestAlgorithm, parseDigest } from '../../oci/digest.ts';

export type PathSpec =
  | { kind: 'blobs-root' }
  | { kind: 'blob-algorithm'; algorithm: DigestAlgorithm }
  | { kind: 'blob'; digest: Digest }
  | { kind: 'uploads-root' }
  | { kind: 'upload'; id: string }
  | { kind: 'upload-data'; id: string };

const UPLOAD_ID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

/** The driver path for a piece of the layout drawn above. */
export function pathFor(spec: PathSpec): string {
  switch (spec.kind) {
    case 'blobs-root':
      return '/blobs';
    case 'blob-algorithm':
      return `/blobs/${spec.algorithm}`;
    case 'blob': {
      const { algorithm, encoded } = parseDigest(spec.digest);
      return `/blobs/${algorithm}/${encoded.slice(0, 2)}/${encoded}`;
    }
    case 'uploads-root':
      return '/uploads';
    case 'upload':
      return `/uploads/${checkUploadId(spec.id)}`;
    case 'upload-data':
      return `/uploads/${checkUploadId(spec.id)}/data`;
  }
}

/** True for the form of upload ids the registry hands out (lowercase UUIDs). */
export function isUploadId(id: string): boolean {
  return UPLOAD_ID.test(id);
}

function checkUploadId(id: string): string {
  if (!isUploadId(id)) throw new InvalidArgumentError(`Cannot use upload id "${id}": not a UUID`);
  return id;
}
