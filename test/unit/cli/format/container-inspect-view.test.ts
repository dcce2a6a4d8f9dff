// `inspect -f` on a container: Docker runs the template on its typed InspectResponse, where an
// unset field exists and nil slices, maps and pointers print as Go prints them; and the JSON the
// view holds has every field of Docker's Config and HostConfig structs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerInspectView } from '../../../../src/cli/format/container-inspect-view.ts';
import { parseDockerTemplate } from '../../../../src/cli/format/docker-template-funcs.ts';
import { CONFIG, dockerShape, HOST_CONFIG } from '../../../../src/container/inspect-schema.ts';

/** A container as Wharf stores it: only what its create said. */
const stored = {
  Id: 'a'.repeat(64),
  Name: '/web',
  Args: ['-c', 'sleep 1'],
  State: { Status: 'created', Running: false, Pid: 0, StartedAt: '0001-01-01T00:00:00Z' },
  HostConfig: dockerShape(
    {
      NetworkMode: 'bridge',
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '81/tcp': null },
      Tmpfs: {},
      PidsLimit: null,
    },
    HOST_CONFIG,
  ),
  Config: dockerShape(
    {
      Image: 'busybox',
      Cmd: ['sh'],
      Labels: { z: '1', a: '2' },
      ExposedPorts: { '90/tcp': {}, '80/tcp': {} },
    },
    CONFIG,
  ),
  Mounts: [
    {
      Type: 'volume',
      Name: 'v',
      Source: '/s',
      Destination: '/d',
      Driver: 'local',
      Mode: 'z',
      RW: true,
      Propagation: '',
    },
  ],
  NetworkSettings: { Networks: { bridge: { IPAddress: '10.0.0.2', Aliases: null } }, Ports: {} },
};

const run = (template: string) => parseDockerTemplate(template).execute(containerInspectView(stored));

describe('containerInspectView', () => {
  it('prints unset slices, maps and pointers as Go does', () => {
    assert.equal(run('{{.Config.Entrypoint}}|{{.HostConfig.Binds}}|{{.HostConfig.Dns}}'), '[]|[]|[]');
    assert.equal(run('{{.Config.Volumes}}|{{.HostConfig.Sysctls}}'), 'map[]|map[]');
    assert.equal(
      run('{{.HostConfig.PidsLimit}}|{{.Config.Healthcheck}}|{{.State.Health}}|{{.SizeRw}}'),
      '<nil>|<nil>|<nil>|<nil>',
    );
    assert.equal(run('{{.HostConfig.ConsoleSize}}|{{.HostConfig.OomScoreAdj}}'), '[0 0]|0');
  });

  it('has the omitempty fields the JSON leaves out', () => {
    assert.equal(
      run('[{{.Config.StopSignal}}][{{.Config.StopTimeout}}][{{.HostConfig.Runtime}}]'),
      '[][<nil>][]',
    );
    assert.equal(run('{{.State.Error}}|{{.State.ExitCode}}|{{.RestartCount}}'), '|0|0');
  });

  it('prints structs inside maps and slices as Go structs', () => {
    assert.equal(run('{{.HostConfig.PortBindings}}'), 'map[80/tcp:[{127.0.0.1 8080}] 81/tcp:[]]');
    assert.equal(run('{{.HostConfig.RestartPolicy}}'), '{no 0}');
    assert.equal(run('{{range .Mounts}}{{.Name}} {{.RW}}{{end}}'), 'v true');
    assert.equal(
      run('{{range $n, $e := .NetworkSettings.Networks}}{{$n}}={{$e.IPAddress}} {{$e.Aliases}}{{end}}'),
      'bridge=10.0.0.2 []',
    );
    assert.equal(
      run('{{.Config.Labels}}|{{index .Config.Labels "a"}}|{{.Config.Labels.z}}'),
      'map[a:2 z:1]|2|1',
    );
  });

  it('writes {{json}} as encoding/json would: struct order, omitempty, sorted map keys', () => {
    assert.equal(run('{{json .Config.ExposedPorts}}'), '{"80/tcp":{},"90/tcp":{}}');
    assert.equal(run('{{json .HostConfig.RestartPolicy}}'), '{"Name":"no","MaximumRetryCount":0}');
    const config = JSON.parse(run('{{json .Config}}')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(config).slice(0, 3), ['Hostname', 'Domainname', 'User']);
    assert.ok(!('StopSignal' in config) && !('Healthcheck' in config));
    assert.equal(config.Entrypoint, null);
    assert.equal(run('{{json .HostConfig.Binds}}'), 'null');
  });

  it('fails on a field Docker does not have, so the raw JSON is tried', () => {
    assert.throws(() => run('{{.Config.Nope}}'), /can't evaluate field Nope in type \*?container\.Config/);
  });
});

describe('dockerShape', () => {
  it("lays a stored HostConfig out as Docker's struct: order, zero values, omitempty", () => {
    const shaped = dockerShape(
      { NetworkMode: 'none', Runtime: '', Tmpfs: { '/t': '' }, Extra: 1 },
      HOST_CONFIG,
    );
    const keys = Object.keys(shaped);
    assert.deepEqual(keys.slice(0, 5), [
      'Binds',
      'ContainerIDFile',
      'LogConfig',
      'NetworkMode',
      'PortBindings',
    ]);
    assert.deepEqual(shaped.LogConfig, { Type: '', Config: null });
    assert.deepEqual(shaped.ConsoleSize, [0, 0]);
    assert.equal(shaped.Binds, null);
    assert.equal(shaped.CpuShares, 0);
    assert.ok(!keys.includes('Runtime'), 'an empty omitempty field is left out');
    assert.ok(!keys.includes('Init') && !keys.includes('Annotations'));
    assert.deepEqual(shaped.Tmpfs, { '/t': '' });
    assert.equal(keys.at(-1), 'Extra', "what Docker's struct lacks comes last");
  });
});
