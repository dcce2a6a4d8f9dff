import { OverlaySnapshotter } from '../../../src/snapshot/overlay/overlay-snapshotter.ts';
import { snapshotterConformance } from '../../../src/snapshot/testsuite.ts';

snapshotterConformance('overlay', (root) => OverlaySnapshotter.open(root));
