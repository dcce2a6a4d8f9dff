// Docker's create body mapped onto the container service's request, with and without the
// network and volume layers plugged in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRequestFromBody } from '../../../src/daemon/create-request.ts';

describe('create bodies and the layers', () => {
  const body = {
    Image: 'busybox',
    ExposedPorts: { '80/tcp': {} },
    Volumes: { '/data': {} },
    HostConfig: {
      NetworkMode: 'app',
      PortBindings: { '80/tcp': [{ HostIp: '', HostPort: 8080 }], '53/udp': null },
      PublishAllPorts: false,
      Binds: ['/srv:/srv:ro'],
      Mounts: [{ Type: 'tmpfs', Target: '/run/x' }],
      Dns: [],
      ExtraHosts: ['db:10.0.0.5'],
    },
    NetworkingConfig: {
      EndpointsConfig: {
        app: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.89.0.7' }, DNSNames: null, GwPriority: 0 },
        extra: { Aliases: null, IPAMConfig: null },
      },
    },
  };

  it('passes ports, mounts, DNS and endpoints to the layers, cleaned of the defaults clients send', () => {
    const request = createRequestFromBody(body, { layers: true });
    assert.deepEqual(request.config.Volumes, { '/data': {} });
    assert.deepEqual(request.hostConfig?.PortBindings, {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '53/udp': [{ HostIp: '', HostPort: '' }],
    });
    assert.equal(request.hostConfig?.PublishAllPorts, undefined);
    assert.deepEqual(request.hostConfig?.Binds, ['/srv:/srv:ro']);
    assert.deepEqual(request.hostConfig?.Mounts, [{ Type: 'tmpfs', Target: '/run/x' }]);
    assert.equal(request.hostConfig?.Dns, undefined);
    assert.deepEqual(request.hostConfig?.ExtraHosts, ['db:10.0.0.5']);
    assert.deepEqual(request.networkingConfig, {
      EndpointsConfig: {
        app: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.89.0.7' } },
        extra: {},
      },
    });
  });

  it('refuses them, naming the flag, without the layers; and --link always', () => {
    assert.throws(() => createRequestFromBody(body, { layers: false }), /anonymous volume/);
    assert.throws(
      () =>
        createRequestFromBody({
          Image: 'busybox',
          HostConfig: { PortBindings: body.HostConfig.PortBindings },
        }),
      /-p\/--publish/,
    );
    assert.throws(
      () => createRequestFromBody({ Image: 'busybox', HostConfig: { Links: ['db:db'] } }, { layers: true }),
      /--link/,
    );
  });
});
