// The container verbs' flag parsing: Docker's sizes, restart policies, times, detach keys, and
// `run`'s flags turned into a create request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseBytes,
  parseDetachKeys,
  parseRestartPolicy,
  parseSwap,
  parseTimeFlag,
} from '../../../src/cli/commands/container-common.ts';
import { buildCreateRequest, type CreateFlags } from '../../../src/cli/commands/run.ts';

function flags(overrides: Partial<CreateFlags> = {}): CreateFlags {
  return {
    env: [],
    envFile: [],
    label: [],
    labelFile: [],
    ulimit: [],
    capAdd: [],
    capDrop: [],
    device: [],
    securityOpt: [],
    logOpt: [],
    groupAdd: [],
    sysctl: [],
    tmpfs: [],
    publish: [],
    expose: [],
    dns: [],
    dnsSearch: [],
    dnsOption: [],
    addHost: [],
    networkAlias: [],
    volume: [],
    mount: [],
    volumesFrom: [],
    ...overrides,
  };
}

describe('container flag values', () => {
  it("parses Docker's sizes", () => {
    assert.equal(parseBytes('32m'), 32 * 1024 * 1024);
    assert.equal(parseBytes('1g'), 1024 ** 3);
    assert.equal(parseBytes('512K'), 512 * 1024);
    assert.equal(parseBytes('100'), 100);
    assert.equal(parseBytes('1.5kb'), 1536);
    assert.equal(parseSwap('-1'), -1);
    assert.throws(() => parseBytes('lots'), /invalid size/);
  });

  it('parses restart policies', () => {
    assert.deepEqual(parseRestartPolicy('no'), { Name: 'no', MaximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.deepEqual(parseRestartPolicy('unless-stopped'), { Name: 'unless-stopped', MaximumRetryCount: 0 });
    assert.throws(() => parseRestartPolicy('always:2'), /only be used with 'on-failure'/);
    assert.throws(() => parseRestartPolicy('sometimes'), /unknown policy/);
  });

  it('parses --since and --until as dates, Unix seconds or durations', () => {
    assert.equal(parseTimeFlag('2024-05-01T10:00:00Z'), 1714557600000000000n);
    assert.equal(parseTimeFlag('2024-05-01T10:00:00.5+01:00'), 1714554000500000000n);
    assert.equal(parseTimeFlag('1714557600.25'), 1714557600250000000n);
    assert.equal(parseTimeFlag('10m', 1714557600000), 1714557000000000000n);
    assert.throws(() => parseTimeFlag('yesterday'), /Cannot parse time/);
  });

  it('parses detach keys', () => {
    assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
    assert.deepEqual(parseDetachKeys('ctrl-@,a'), [0, 97]);
    assert.throws(() => parseDetachKeys('ctrl-pp'), /Unknown character/);
  });
});

describe('run flags into a create request', () => {
  it("fills Docker's Config and HostConfig", async () => {
    const request = await buildCreateRequest(
      'busybox',
      ['sh', '-c', 'echo hi'],
      flags({
        name: 'web',
        env: ['A=1', 'NOT_SET_ANYWHERE_XYZ'],
        label: ['app=web', 'flag'],
        memory: '32m',
        cpus: '0.5',
        pidsLimit: '20',
        ulimit: ['nofile=1024:2048'],
        restart: 'on-failure:2',
        healthCmd: 'true',
        healthInterval: '1s',
        healthRetries: '2',
        interactive: true,
        tty: true,
        init: true,
        readOnly: true,
        network: 'host',
        logOpt: ['max-size=10m'],
        tmpfs: ['/run:size=1m'],
        stopSignal: 'SIGUSR1',
        stopTimeout: '3',
      }),
    );
    assert.equal(request.name, 'web');
    const { config, hostConfig } = request;
    assert.deepEqual(config.Cmd, ['sh', '-c', 'echo hi']);
    assert.deepEqual(config.Env, ['A=1']);
    assert.deepEqual(config.Labels, { app: 'web', flag: '' });
    assert.equal(config.Tty, true);
    assert.equal(config.OpenStdin, true);
    assert.equal(config.StopSignal, 'SIGUSR1');
    assert.equal(config.StopTimeout, 3);
    assert.deepEqual(config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 1e9, Retries: 2 });
    assert.equal(hostConfig?.Memory, 32 * 1024 * 1024);
    assert.equal(hostConfig?.NanoCpus, 5e8);
    assert.equal(hostConfig?.PidsLimit, 20);
    assert.deepEqual(hostConfig?.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
    assert.deepEqual(hostConfig?.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    assert.equal(hostConfig?.Init, true);
    assert.equal(hostConfig?.ReadonlyRootfs, true);
    assert.equal(hostConfig?.NetworkMode, 'host');
    assert.deepEqual(hostConfig?.LogConfig, { Type: 'k8s-file', Config: { 'max-size': '10m' } });
    assert.deepEqual(hostConfig?.Tmpfs, { '/run': 'size=1m' });
  });

  it("defaults to Docker's default network and resets the entrypoint with an empty --entrypoint", async () => {
    const request = await buildCreateRequest('busybox', [], flags({ entrypoint: '' }));
    assert.equal(request.hostConfig?.NetworkMode, 'default');
    assert.deepEqual(request.config.Entrypoint, ['']);
    assert.equal(request.config.Cmd, undefined);
  });

  it('turns -p, -P, --expose, --dns*, --add-host, --network-alias and --ip into the create request', async () => {
    const request = await buildCreateRequest(
      'busybox',
      [],
      flags({
        network: 'app',
        publish: ['127.0.0.1:8080:80', '53/udp'],
        publishAll: true,
        expose: ['9000-9001'],
        dns: ['10.0.0.53'],
        dnsSearch: ['example.test'],
        dnsOption: ['ndots:2'],
        addHost: ['db:10.1.2.3', 'gw=host-gateway'],
        networkAlias: ['web'],
        ip: '10.89.0.9',
      }),
    );
    assert.deepEqual(request.config.ExposedPorts, {
      '80/tcp': {},
      '53/udp': {},
      '9000/tcp': {},
      '9001/tcp': {},
    });
    assert.deepEqual(request.hostConfig?.PortBindings, {
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
      '53/udp': [{ HostIp: '', HostPort: '' }],
    });
    assert.equal(request.hostConfig?.PublishAllPorts, true);
    assert.deepEqual(request.hostConfig?.Dns, ['10.0.0.53']);
    assert.deepEqual(request.hostConfig?.DnsSearch, ['example.test']);
    assert.deepEqual(request.hostConfig?.DnsOptions, ['ndots:2']);
    assert.deepEqual(request.hostConfig?.ExtraHosts, ['db:10.1.2.3', 'gw:host-gateway']);
    assert.deepEqual(request.networkingConfig, {
      EndpointsConfig: { app: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.89.0.9' } } },
    });
    await assert.rejects(
      buildCreateRequest('busybox', [], flags({ network: 'none', networkAlias: ['x'] })),
      /need a bridge network/,
    );
  });

  it('turns -v, --mount and --volumes-from into Binds, Mounts, VolumesFrom and Config.Volumes', async () => {
    const request = await buildCreateRequest(
      'busybox',
      [],
      flags({
        volume: ['data:/data:ro', '/anon', '/srv:/srv'],
        mount: ['type=tmpfs,dst=/run/x,tmpfs-size=1m'],
        volumesFrom: ['other:ro'],
      }),
    );
    assert.deepEqual(request.hostConfig?.Binds, ['data:/data:ro', '/srv:/srv']);
    assert.deepEqual(request.config.Volumes, { '/anon': {} });
    assert.deepEqual(request.hostConfig?.Mounts, [
      { Type: 'tmpfs', Target: '/run/x', TmpfsOptions: { SizeBytes: 1024 * 1024 } },
    ]);
    assert.deepEqual(request.hostConfig?.VolumesFrom, ['other:ro']);
  });

  it("refuses what Docker's CLI refuses", async () => {
    await assert.rejects(
      buildCreateRequest('busybox', [], flags({ workdir: 'relative' })),
      /needs to be an absolute path/,
    );
    await assert.rejects(
      buildCreateRequest('busybox', [], flags({ cpus: '1', cpuPeriod: '1000' })),
      /Conflicting options/,
    );
    await assert.rejects(
      buildCreateRequest('busybox', [], flags({ logOpt: ['colour=red'] })),
      /unknown log opt/,
    );
    await assert.rejects(buildCreateRequest('busybox', [], flags({ ulimit: ['nofile'] })), /--ulimit/);
  });
});
