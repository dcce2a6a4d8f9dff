// `wharf system service -H` values: unix sockets and loopback TCP only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPidFile, formatAddress, parseHost } from '../../../src/daemon/daemon-config.ts';
import { InvalidArgumentError } from '../../../src/errors/index.ts';

describe('parseHost', () => {
  it('reads unix sockets in Docker spellings', () => {
    assert.deepEqual(parseHost('unix:///run/wharf/wharf.sock'), {
      kind: 'unix',
      path: '/run/wharf/wharf.sock',
    });
    assert.deepEqual(parseHost('/tmp/a.sock'), { kind: 'unix', path: '/tmp/a.sock' });
    assert.deepEqual(parseHost('unix://'), { kind: 'unix', path: '/run/wharf/wharf.sock' });
  });

  it('reads loopback TCP addresses and refuses others', () => {
    assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseHost('tcp://localhost:0'), { kind: 'tcp', host: 'localhost', port: 0 });
    assert.deepEqual(parseHost('tcp://[::1]:2375'), { kind: 'tcp', host: '::1', port: 2375 });
    assert.deepEqual(parseHost('tcp://:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.throws(() => parseHost('tcp://0.0.0.0:2375'), /only loopback/);
    assert.throws(() => parseHost('tcp://example.com:2375'), InvalidArgumentError);
    assert.throws(() => parseHost('tcp://127.0.0.1'), /expected tcp:\/\/HOST:PORT/);
    assert.throws(() => parseHost('fd://'), InvalidArgumentError);
  });

  it('formats addresses back and places the pid file beside the first socket', () => {
    assert.equal(formatAddress({ kind: 'tcp', host: '::1', port: 1 }), 'tcp://[::1]:1');
    assert.equal(
      defaultPidFile([parseHost('unix:///run/wharf/wharf.sock')], '/var/lib/wharf'),
      '/run/wharf/wharf.pid',
    );
    assert.equal(
      defaultPidFile([parseHost('tcp://127.0.0.1:1')], '/var/lib/wharf'),
      '/var/lib/wharf/wharf.pid',
    );
  });
});
