/**
 * Removes what the network layer set up for a test's store root: the sandboxes still attached,
 * the networks (the default bridge the first container made too), their firewall rules and the
 * root's DNS daemon. Call it before deleting the root (a root deleted first leaves them to the
 * next `network prune`'s deep sweep).
 *
 * @example
 * after(async () => { await destroyRootNetworks(root); await rm(root, { recursive: true, force: true }); });
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export async function destroyRootNetworks(root: string): Promise<void> {
  if (!existsSync(join(root, 'wharf.db'))) return;
  const { openMetadataDatabase } = await import('../../src/metadata/database.ts');
  const { NetworkManager } = await import('../../src/container/network/network-manager.ts');
  const db = openMetadataDatabase(root);
  try {
    await new NetworkManager(db, root).destroyAll();
  } finally {
    db.close();
  }
}
