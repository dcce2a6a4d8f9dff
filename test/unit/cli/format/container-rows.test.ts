// `ps`'s PORTS, MOUNTS and NETWORKS columns as docker/cli renders them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerRow, displayablePorts, statsRow } from '../../../../src/cli/format/container-rows.ts';
import type { ContainerSummary } from '../../../../src/container/docker-types.ts';

describe('ps columns', () => {
  it("renders ports as docker/cli's DisplayablePorts", () => {
    assert.equal(displayablePorts([]), '');
    assert.equal(
      displayablePorts([{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }]),
      '127.0.0.1:8080->80/tcp',
    );
    // unpublished ports in a run are grouped; so are ports published on the same number
    assert.equal(
      displayablePorts([
        { PrivatePort: 9001, Type: 'tcp' },
        { PrivatePort: 9000, Type: 'tcp' },
        { PrivatePort: 53, Type: 'udp' },
        { IP: '0.0.0.0', PrivatePort: 7000, PublicPort: 7000, Type: 'tcp' },
        { IP: '0.0.0.0', PrivatePort: 7001, PublicPort: 7001, Type: 'tcp' },
        { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' },
      ]),
      '53/udp, 0.0.0.0:7000-7001->7000-7001/tcp, 9000-9001/tcp, 0.0.0.0:32768->80/tcp',
    );
  });

  it('lists mounts by volume name (or source), local volumes and network names', () => {
    const summary: ContainerSummary = {
      Id: 'a'.repeat(64),
      Names: ['/web'],
      Image: 'busybox',
      ImageID: 'sha256:x',
      Command: 'sh',
      Created: 0,
      Ports: [],
      Labels: {},
      State: 'running',
      Status: 'Up',
      HostConfig: { NetworkMode: 'app' },
      NetworkSettings: { Networks: { extra: {}, app: {} } },
      Mounts: [
        { Type: 'volume', Name: 'f'.repeat(64), Source: '/v', Destination: '/a', Driver: 'local' },
        { Type: 'bind', Source: '/srv', Destination: '/srv' },
      ],
    };
    const row = containerRow(summary, { trunc: true, createdAt: false });
    assert.equal(row.Mounts, `${'f'.repeat(14)}…,/srv`);
    assert.equal(row.LocalVolumes, '1');
    assert.equal(row.Networks, 'app,extra');
  });
});

describe('stats columns', () => {
  it("prints NET I/O and BLOCK I/O with go-units' HumanSizeWithPrecision(x, 3)", () => {
    const numbers = {
      id: 'c'.repeat(64),
      name: 'web',
      container: 'web',
      cpuPercent: 0,
      memoryUsage: 0,
      memoryLimit: 1,
      memoryPercent: 0,
      pids: 1,
      networkRx: 4544,
      networkTx: 796,
      blockRead: 0,
      blockWrite: 2097152,
      running: true,
    };
    const row = statsRow(numbers, { trunc: true });
    assert.equal(row.NetIO, '4.54kB / 796B');
    assert.equal(row.BlockIO, '0B / 2.1MB');
    assert.equal(statsRow({ ...numbers, networkRx: 1234567890 }, { trunc: true }).NetIO, '1.23GB / 796B');
    assert.equal(statsRow({ ...numbers, running: false }, { trunc: true }).NetIO, '--');
  });
});
