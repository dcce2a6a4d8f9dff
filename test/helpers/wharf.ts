/** Paths and runners shared by the tests that drive the real `wharf` binary. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const wharfBin = `${projectRoot}bin/wharf`;

/** The V8 flags bin/wharf starts node with (its `node_flags=` line), which the code caches need. */
export function wharfNodeFlags(): string[] {
  const line = /^node_flags='([^']*)'$/m.exec(readFileSync(wharfBin, 'utf8'));
  if (!line) throw new Error('bin/wharf has no node_flags line');
  return line[1]!.split(' ').filter(Boolean);
}
/**
 * BuildKit's and other public test data, read in place (never copied into the project): the
 * `shared/testdata` directory beside the checkout, or WHARF_SHARED_TESTDATA.
 */
export const sharedTestdata = process.env.WHARF_SHARED_TESTDATA
  ? `${process.env.WHARF_SHARED_TESTDATA.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../../shared/testdata/', import.meta.url));
