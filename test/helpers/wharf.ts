/** Paths and runners shared by the tests that drive the real `wharf` binary. */
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const wharfBin = `${projectRoot}bin/wharf`;
/** BuildKit's and other public test data, read in place (never copied into the project). */
export const sharedTestdata = fileURLToPath(new URL('../../../shared/testdata/', import.meta.url));
