import { NativeSnapshotter } from '../../../src/snapshot/native/native-snapshotter.ts';
import { snapshotterConformance } from '../../../src/snapshot/testsuite.ts';

snapshotterConformance('native', (root) => NativeSnapshotter.open(root));
