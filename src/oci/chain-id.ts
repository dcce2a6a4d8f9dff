/**
 * Chain IDs (OCI image spec `config.md`): the identity of a stack of layers. The chain ID of the
 * first layer is its diffID; each next one is `sha256(parentChainID + " " + diffID)`. Snapshots
 * are keyed by chain ID, so two images sharing a base share its snapshots.
 *
 * @example
 * chainIds(['sha256:a…', 'sha256:b…']); // ['sha256:a…', 'sha256:<sha256 of "sha256:a… sha256:b…">']
 */
import { type Digest, digestBytes } from './digest.ts';

/** The chain ID of each prefix of `diffIds` (same length as the input). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  let parent: Digest | undefined;
  for (const diffId of diffIds) {
    parent = parent === undefined ? diffId : digestBytes(`${parent} ${diffId}`);
    out.push(parent);
  }
  return out;
}

/** The chain ID of the whole stack, or undefined for an image with no layers. */
export function chainId(diffIds: readonly Digest[]): Digest | undefined {
  return chainIds(diffIds).at(-1);
}
