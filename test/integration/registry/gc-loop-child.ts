// Not a test: the second process of gc-stress.test.ts. Collects garbage in a loop on a storage a
// server is using (grace 0, untagged manifests too), pausing PAUSE_MS between runs, until SIGTERM;
// prints `attempt` after each run (done or refused), then its totals as JSON.
import { ConflictError } from '../../../src/errors/index.ts';
import { GarbageCollector } from '../../../src/registry/gc/garbage-collector.ts';
import { SqliteMetadataStore } from '../../../src/registry/metadata/sqlite-metadata-store.ts';
import { FilesystemDriver } from '../../../src/registry/storage/filesystem-driver.ts';

const storage = process.argv[2];
const pauseMs = Number(process.argv[3] ?? 0);
if (!storage) throw new Error('usage: gc-loop-child.ts STORAGE [PAUSE_MS]');
const metadata = SqliteMetadataStore.open(`${storage}/metadata.db`);
const driver = await FilesystemDriver.open(`${storage}/content`, { sweepTemp: false });
const gc = new GarbageCollector(driver, metadata);
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
const totals = {
  runs: 0,
  conflicts: 0,
  manifestsDeleted: 0,
  linksRemoved: 0,
  blobsDeleted: 0,
  bytesFreed: 0,
};
process.stdout.write('ready\n');
while (!stopping) {
  try {
    const report = await gc.run({ graceMs: 0, deleteUntagged: true });
    totals.runs++;
    totals.manifestsDeleted += report.manifestsDeleted;
    totals.linksRemoved += report.linksRemoved;
    totals.blobsDeleted += report.blobsDeleted;
    totals.bytesFreed += report.bytesFreed;
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    totals.conflicts++; // the server's scheduled run holds the lease
  }
  process.stdout.write('attempt\n');
  await new Promise((resolve) => setTimeout(resolve, pauseMs));
}
await metadata.close();
process.stdout.write(`${JSON.stringify(totals)}\n`);
