// The small pure parts of the container service: names, filters, durations, times, /etc files,
// exit codes for failed starts, status texts, relative overlay options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerMatcher, validateFilters } from '../../../src/container/container-filters.ts';
import { checkContainerName, randomContainerName } from '../../../src/container/container-names.ts';
import type { ContainerRecord } from '../../../src/container/container-records.ts';
import { networkModeOf, parseSecurityOptions } from '../../../src/container/container-spec.ts';
import { containerStatusText } from '../../../src/container/container-views.ts';
import { defaultHostConfig } from '../../../src/container/docker-types.ts';
import { containerResolvConf, hostsFile } from '../../../src/container/etc-files.ts';
import { formatGoDuration, parseGoDuration } from '../../../src/container/go-duration.ts';
import { relativeOverlayOptions } from '../../../src/container/rootfs-mount.ts';
import { startErrorExitCode } from '../../../src/container/start-errors.ts';
import { formatRfc3339Nano, parseTime, ZERO_TIME } from '../../../src/container/timestamps.ts';

function record(overrides: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: 'a'.repeat(64),
    name: 'web',
    imageId: 'sha256:x',
    definition: {
      Config: { Image: 'busybox', Labels: { app: 'web', tier: 'front' } },
      HostConfig: defaultHostConfig(),
      Path: 'sh',
      Args: [],
      Created: '2024-05-01T10:00:00Z',
      ImageId: 'sha256:x',
      SnapshotKey: 'container-a',
      CgroupsPath: '/wharf/a',
    },
    state: 'running',
    generation: 1,
    cleanedGeneration: 0,
    pid: 42,
    conmonPid: 41,
    exitCode: 0,
    oomKilled: false,
    error: '',
    startedAt: '2024-05-01T10:00:00Z',
    finishedAt: '',
    restartCount: 0,
    manuallyStopped: false,
    health: undefined,
    healthPid: 0,
    runtime: 'runc',
    ...overrides,
  };
}

describe('container names', () => {
  it('makes adjective_surname names, with a digit after collisions', () => {
    for (let i = 0; i < 50; i++) assert.match(randomContainerName(), /^[a-z]+_[a-z]+$/);
    assert.match(randomContainerName(3), /^[a-z]+_[a-z]+\d$/);
  });

  it("checks names with Docker's rule", () => {
    assert.equal(checkContainerName('/web-1.a_b'), 'web-1.a_b');
    for (const bad of ['a', '-web', 'we b', 'web/1', ''])
      assert.throws(() => checkContainerName(bad), /Invalid container name/);
  });
});

describe('ps filters', () => {
  it('matches id, name, label, status, exited and health', () => {
    const running = record();
    const exited = record({ id: 'b'.repeat(64), name: 'db', state: 'exited', exitCode: 3 });
    const match = (filters: Record<string, string[]>) =>
      [running, exited].filter(containerMatcher(filters)).map((r) => r.name);
    assert.deepEqual(match({ id: ['aaa'] }), ['web']);
    assert.deepEqual(match({ name: ['^d'] }), ['db']);
    assert.deepEqual(match({ label: ['app=web'] }), ['web', 'db']);
    assert.deepEqual(match({ label: ['app=db'] }), []);
    assert.deepEqual(match({ status: ['exited', 'paused'] }), ['db']);
    assert.deepEqual(match({ exited: ['3'] }), ['db']);
    assert.deepEqual(match({ health: ['none'] }), ['web', 'db']);
    assert.deepEqual(match({ network: ['none'] }), ['web', 'db']);
  });

  it('matches networks, volumes, published and exposed ports from the definition', () => {
    const base = record();
    const web = record({
      definition: {
        ...base.definition,
        Config: { ...base.definition.Config, ExposedPorts: { '80/tcp': {}, '53/udp': {} } },
        HostConfig: {
          ...defaultHostConfig(),
          NetworkMode: 'app',
          PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
        },
        EndpointsConfig: { extra: {} },
        MountPoints: [
          {
            Type: 'volume',
            Name: 'data',
            Source: '/v/data/_data',
            Destination: '/data',
            Mode: '',
            RW: true,
            Propagation: '',
          },
        ],
      },
    });
    const db = record({ id: 'b'.repeat(64), name: 'db' });
    const match = (filters: Record<string, string[]>) =>
      [web, db].filter(containerMatcher(filters)).map((r) => r.name);
    assert.deepEqual(match({ network: ['app'] }), ['web']);
    assert.deepEqual(match({ network: ['extra', 'none'] }), ['web', 'db']);
    assert.deepEqual(match({ volume: ['data'] }), ['web']);
    assert.deepEqual(match({ volume: ['/data'] }), ['web']);
    assert.deepEqual(match({ volume: ['/other'] }), []);
    assert.deepEqual(match({ publish: ['80'] }), ['web']);
    assert.deepEqual(match({ publish: ['53/udp'] }), []);
    assert.deepEqual(match({ expose: ['50-60/udp'] }), ['web']);
    assert.deepEqual(match({ expose: ['81'] }), []);
  });

  it("rejects unknown filters and values as Docker's daemon does", () => {
    assert.throws(() => validateFilters({ color: ['red'] }), { message: "invalid filter 'color'" });
    assert.throws(() => validateFilters({ status: ['sleeping'] }), /Invalid filter 'status=sleeping'/);
    assert.throws(() => validateFilters({ health: ['meh'] }), /Unrecognised filter value for health/);
  });
});

describe('durations and times', () => {
  it("parses and prints Go's durations", () => {
    assert.equal(parseGoDuration('1m30s'), 90e9);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('300ms'), 3e8);
    assert.equal(parseGoDuration('0'), 0);
    assert.throws(() => parseGoDuration('10'), /invalid duration/);
    assert.throws(() => parseGoDuration('1x'), /invalid duration/);
    assert.equal(formatGoDuration(30e9), '30s');
    assert.equal(formatGoDuration(90e9), '1m30s');
    assert.equal(formatGoDuration(3600e9), '1h0m0s');
    assert.equal(formatGoDuration(1.5e9), '1.5s');
    assert.equal(formatGoDuration(250e6), '250ms');
  });

  it('prints RFC 3339 with trimmed nanoseconds', () => {
    assert.equal(formatRfc3339Nano(1714557600123456789n), '2024-05-01T10:00:00.123456789Z');
    assert.equal(formatRfc3339Nano(1714557600100000000n), '2024-05-01T10:00:00.1Z');
    assert.equal(formatRfc3339Nano(1714557600000000000n), '2024-05-01T10:00:00Z');
    assert.equal(parseTime(ZERO_TIME), undefined);
    assert.equal(parseTime('2024-05-01T10:00:00.5Z'), 1714557600500);
  });
});

describe('status text', () => {
  const now = Date.parse('2024-05-01T10:05:00Z');
  it("prints Docker's STATUS column", () => {
    assert.equal(containerStatusText(record(), now), 'Up 5 minutes');
    assert.equal(containerStatusText(record({ state: 'paused' }), now), 'Up 5 minutes (Paused)');
    assert.equal(
      containerStatusText(record({ health: { Status: 'starting', FailingStreak: 0, Log: [] } }), now),
      'Up 5 minutes (health: starting)',
    );
    assert.equal(
      containerStatusText(record({ health: { Status: 'unhealthy', FailingStreak: 3, Log: [] } }), now),
      'Up 5 minutes (unhealthy)',
    );
    assert.equal(
      containerStatusText(
        record({ state: 'exited', exitCode: 137, finishedAt: '2024-05-01T10:04:58Z' }),
        now,
      ),
      'Exited (137) 2 seconds ago',
    );
    assert.equal(containerStatusText(record({ state: 'created' }), now), 'Created');
    assert.equal(
      containerStatusText(
        record({ state: 'restarting', exitCode: 1, finishedAt: '2024-05-01T10:05:00Z' }),
        now,
      ),
      'Restarting (1) Less than a second ago',
    );
    assert.equal(containerStatusText(record({ state: 'removing' }), now), 'Removal In Progress');
    assert.equal(containerStatusText(record({ state: 'dead' }), now), 'Dead');
  });
});

describe('per-container /etc files', () => {
  it("writes Docker's hosts file", () => {
    const text = hostsFile({ hostname: 'abc123', addresses: ['10.0.0.2'] });
    assert.match(text, /^127\.0\.0\.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n/);
    assert.match(text, /\n10\.0\.0\.2\tabc123\n$/);
    assert.doesNotMatch(hostsFile({ hostname: 'abc123', addresses: [] }), /abc123/);
  });

  it('drops local nameservers, falling back to public ones', () => {
    assert.equal(
      containerResolvConf('search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n'),
      'search lan\nnameserver 10.0.0.1\n',
    );
    assert.equal(containerResolvConf('nameserver 127.0.0.53\n'), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  });
});

describe('start errors, network modes, security options, overlay options', () => {
  it('maps runtime messages to 127, 126 and 125 as Docker', () => {
    assert.equal(startErrorExitCode('exec: "x": executable file not found in $PATH'), 127);
    assert.equal(startErrorExitCode('exec: "/nope": stat /nope: no such file or directory'), 127);
    assert.equal(startErrorExitCode('exec: "/etc": permission denied'), 126);
    assert.equal(startErrorExitCode('cgroup: something odd'), 125);
  });

  it('supports none and host alone, bridge and named networks through a network layer', () => {
    const hostConfig = defaultHostConfig();
    assert.equal(networkModeOf(hostConfig), 'none');
    assert.equal(networkModeOf({ ...hostConfig, NetworkMode: 'host' }), 'host');
    assert.equal(networkModeOf({ ...hostConfig, NetworkMode: 'default' }), 'none');
    assert.throws(() => networkModeOf({ ...hostConfig, NetworkMode: 'bridge' }), /only "none" and "host"/);
    const layer = (mode: string) => mode !== 'none' && mode !== 'host';
    assert.equal(networkModeOf({ ...hostConfig, NetworkMode: 'default' }, layer), 'hooked');
    assert.equal(networkModeOf({ ...hostConfig, NetworkMode: 'bridge' }, layer), 'hooked');
    assert.equal(networkModeOf({ ...hostConfig, NetworkMode: 'app-net' }, layer), 'hooked');
    assert.equal(networkModeOf({ ...hostConfig, NetworkMode: 'none' }, layer), 'none');
    assert.throws(
      () => networkModeOf({ ...hostConfig, NetworkMode: 'container:web' }, layer),
      /not supported/,
    );
  });

  it("parses Docker's --security-opt values", () => {
    assert.deepEqual(parseSecurityOptions(['no-new-privileges', 'seccomp=unconfined', 'label=disable']), {
      noNewPrivileges: true,
      seccomp: 'unconfined',
      unmaskSystemPaths: false,
    });
    assert.equal(parseSecurityOptions(['no-new-privileges:false']).noNewPrivileges, false);
    assert.equal(parseSecurityOptions(['systempaths=unconfined']).unmaskSystemPaths, true);
    assert.throws(() => parseSecurityOptions(['bogus=1']), /Invalid --security-opt/);
  });

  it('makes overlay directories relative to their common parent', () => {
    assert.deepEqual(
      relativeOverlayOptions([
        'index=off',
        'workdir=/r/snapshots/overlay/snapshots/8/work',
        'upperdir=/r/snapshots/overlay/snapshots/8/fs',
        'lowerdir=/r/snapshots/overlay/l/1:/r/snapshots/overlay/l/2',
      ]),
      {
        options: ['index=off', 'workdir=snapshots/8/work', 'upperdir=snapshots/8/fs', 'lowerdir=l/1:l/2'],
        cwd: '/r/snapshots/overlay',
      },
    );
  });
});
