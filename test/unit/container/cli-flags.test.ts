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

  it('defaults to --network none and resets the entrypoint with an empty --entrypoint', async () => {
    const request = await buildCreateRequest('busybox', [], flags({ entrypoint: '' }));
    assert.equal(request.hostConfig?.NetworkMode, 'none');
    assert.deepEqual(request.config.Entrypoint, ['']);
    assert.equal(request.config.Cmd, undefined);
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
