/** Paths and runners shared by the tests that drive the real `wharf` binary. */
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const wharfBin = `${projectRoot}bin/wharf`;
/**
 * BuildKit's and other public test data, read in place (never copied into the project): the
 * `shared/testdata` directory beside the checkout, or WHARF_SHARED_TESTDATA.
 */
export const sharedTestdata = process.env.WHARF_SHARED_TESTDATA
  ? `${process.env.WHARF_SHARED_TESTDATA.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../../shared/testdata/', import.meta.url));
