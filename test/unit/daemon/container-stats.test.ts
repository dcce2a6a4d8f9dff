// The stats document the docker CLI computes NET I/O and BLOCK I/O from: `networks` keyed by
// interface (absent when there is none, as Go's omitempty leaves an empty map out) and
// `blkio_stats.io_service_bytes_recursive` entries of {major, minor, op, value}.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatsSample } from '../../../src/container/container-service.ts';
import { statsDocument } from '../../../src/daemon/container-stats.ts';

function sample(overrides: Partial<StatsSample>): StatsSample {
  return {
    id: 'c'.repeat(64),
    name: 'web',
    read: Date.now(),
    cgroup: { memory: { usage: 4096, oomKills: 0 }, pids: { current: 1 } },
    networks: undefined,
    hostMemory: 1 << 30,
    onlineCpus: 2,
    ...overrides,
  };
}

describe('stats document: network and block I/O', () => {
  it('carries the interfaces and the block I/O entries as dockerd does', () => {
    const doc = statsDocument({
      systemNanos: 1,
      sample: sample({
        cgroup: {
          pids: { current: 1 },
          blkio: [
            { major: 254, minor: 0, op: 'Read', value: 4096 },
            { major: 254, minor: 0, op: 'Write', value: 2097152 },
          ],
        },
        networks: {
          eth0: {
            rxBytes: 4544,
            rxPackets: 31,
            rxErrors: 0,
            rxDropped: 0,
            txBytes: 2744,
            txPackets: 18,
            txErrors: 0,
            txDropped: 0,
          },
        },
      }),
    }) as { networks?: unknown; blkio_stats: { io_service_bytes_recursive: unknown } };
    assert.deepEqual(doc.networks, {
      eth0: {
        rx_bytes: 4544,
        rx_packets: 31,
        rx_errors: 0,
        rx_dropped: 0,
        tx_bytes: 2744,
        tx_packets: 18,
        tx_errors: 0,
        tx_dropped: 0,
      },
    });
    assert.deepEqual(doc.blkio_stats.io_service_bytes_recursive, [
      { major: 254, minor: 0, op: 'Read', value: 4096 },
      { major: 254, minor: 0, op: 'Write', value: 2097152 },
    ]);
  });

  it('has no networks key for --network host or a container with only lo', () => {
    assert.equal('networks' in statsDocument({ systemNanos: 1, sample: sample({}) }), false);
    assert.equal('networks' in statsDocument({ systemNanos: 1, sample: sample({ networks: {} }) }), false);
  });
});
