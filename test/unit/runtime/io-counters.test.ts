// The readings behind `stats`' NET I/O and BLOCK I/O: /proc/PID/net/dev (lo left out, as
// Docker's endpoint statistics have no loopback), v1 blkio files and v2 io.stat.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBlkioEntries, parseIoStat } from '../../../src/runtime/cgroups.ts';
import { parseNetDev } from '../../../src/runtime/interface-stats.ts';

describe('interface counters', () => {
  it('reads /proc/PID/net/dev, without lo', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0',
      '  eth0:    4544      31    1    2    0     0          0         0     2744      18    3    4    0     0       0          0',
      '  eth1:12345678901 9 0 0 0 0 0 0 7 1 0 0 0 0 0 0',
      '',
    ].join('\n');
    assert.deepEqual(parseNetDev(text), {
      eth0: {
        rxBytes: 4544,
        rxPackets: 31,
        rxErrors: 1,
        rxDropped: 2,
        txBytes: 2744,
        txPackets: 18,
        txErrors: 3,
        txDropped: 4,
      },
      // a counter wide enough to touch the colon
      eth1: {
        rxBytes: 12345678901,
        rxPackets: 9,
        rxErrors: 0,
        rxDropped: 0,
        txBytes: 7,
        txPackets: 1,
        txErrors: 0,
        txDropped: 0,
      },
    });
    assert.deepEqual(parseNetDev(text.split('\n').slice(0, 3).join('\n')), {});
  });
});

describe('block I/O counters', () => {
  it('reads v1 blkio files, leaving out the Total line', () => {
    const text = [
      '254:0 Read 8192',
      '254:0 Write 2097152',
      '254:0 Sync 2097152',
      '254:0 Async 8192',
      '254:0 Discard 0',
      '254:0 Total 2105344',
      'Total 2105344',
    ].join('\n');
    const entries = parseBlkioEntries(text);
    assert.equal(entries.length, 6);
    assert.deepEqual(entries[0], { major: 254, minor: 0, op: 'Read', value: 8192 });
    assert.deepEqual(entries[1], { major: 254, minor: 0, op: 'Write', value: 2097152 });
    assert.deepEqual(parseBlkioEntries('Total 0'), []);
  });

  it("turns v2 io.stat into moby's read and write entries", () => {
    const text = '254:0 rbytes=4096 wbytes=2097152 rios=1 wios=16 dbytes=0 dios=0\n7:1 rbytes=0 wbytes=512';
    assert.deepEqual(parseIoStat(text), [
      { major: 254, minor: 0, op: 'read', value: 4096 },
      { major: 254, minor: 0, op: 'write', value: 2097152 },
      { major: 7, minor: 1, op: 'read', value: 0 },
      { major: 7, minor: 1, op: 'write', value: 512 },
    ]);
    assert.deepEqual(parseIoStat(''), []);
  });
});
