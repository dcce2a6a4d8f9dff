import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  effectiveHealthcheck,
  mergeImageConfig,
  processEnv,
  processPathAndArgs,
  replaceOrAppendEnv,
} from '../../../src/container/container-config.ts';

const image = {
  Env: ['PATH=/usr/bin:/bin', 'LANG=C', 'KEEP=image'],
  Entrypoint: ['/entry.sh'],
  Cmd: ['serve', '--port', '80'],
  WorkingDir: '/app',
  User: 'app',
  Labels: { a: 'image', b: 'image' },
  StopSignal: 'SIGQUIT',
};

describe('mergeImageConfig (Docker merge)', () => {
  it('keeps the image entrypoint and command when the request gives none', () => {
    const merged = mergeImageConfig({ Image: 'x' }, image);
    assert.deepEqual(processPathAndArgs(merged), { path: '/entry.sh', args: ['serve', '--port', '80'] });
    assert.equal(merged.WorkingDir, '/app');
    assert.equal(merged.User, 'app');
    assert.equal(merged.StopSignal, 'SIGQUIT');
  });

  it('replaces only the command when the request gives one', () => {
    const merged = mergeImageConfig({ Image: 'x', Cmd: ['debug'] }, image);
    assert.deepEqual(processPathAndArgs(merged), { path: '/entry.sh', args: ['debug'] });
  });

  it("drops the image's command when the request gives an entrypoint", () => {
    const merged = mergeImageConfig({ Image: 'x', Entrypoint: ['sh'] }, image);
    assert.deepEqual(processPathAndArgs(merged), { path: 'sh', args: [] });
  });

  it('resets the entrypoint with [""] and then needs a command', () => {
    const merged = mergeImageConfig({ Image: 'x', Entrypoint: [''], Cmd: ['ls', '-l'] }, image);
    assert.equal(merged.Entrypoint, null);
    assert.deepEqual(processPathAndArgs(merged), { path: 'ls', args: ['-l'] });
    assert.throws(() => mergeImageConfig({ Image: 'x', Entrypoint: [''] }, image), {
      message: 'no command specified',
    });
    assert.throws(() => mergeImageConfig({ Image: 'x' }, {}), { message: 'no command specified' });
  });

  it('adds image variables the request does not set, and merges labels', () => {
    const merged = mergeImageConfig(
      { Image: 'x', Env: ['KEEP=mine', 'NEW=1'], Labels: { b: 'mine' } },
      image,
    );
    assert.deepEqual(merged.Env, ['KEEP=mine', 'NEW=1', 'PATH=/usr/bin:/bin', 'LANG=C']);
    assert.deepEqual(merged.Labels, { a: 'image', b: 'mine' });
  });

  it('fills health-check fields the request leaves out', () => {
    const merged = mergeImageConfig(
      { Image: 'x', Cmd: ['x'], Healthcheck: { Interval: 5e9 } },
      { Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 1e9, Retries: 7 } },
    );
    assert.deepEqual(merged.Healthcheck, { Interval: 5e9, Test: ['CMD-SHELL', 'true'], Retries: 7 });
  });
});

describe('process environment and health check', () => {
  it('adds Docker defaults that the config does not override', () => {
    assert.deepEqual(
      processEnv({ Image: 'x', Env: ['A=1'], Tty: true }, { hostname: 'abc', home: '/root' }),
      [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'HOSTNAME=abc',
        'TERM=xterm',
        'A=1',
        'HOME=/root',
      ],
    );
    assert.deepEqual(
      processEnv({ Image: 'x', Env: ['PATH=/x', 'HOME=/h'] }, { hostname: 'h', home: '/root' }),
      ['PATH=/x', 'HOSTNAME=h', 'HOME=/h'],
    );
    assert.deepEqual(replaceOrAppendEnv(['A=1', 'B=2'], ['B=3', 'C=4']), ['A=1', 'B=3', 'C=4']);
  });

  it('turns the Healthcheck into what runs, with Docker defaults', () => {
    assert.equal(effectiveHealthcheck({ Image: 'x' }), undefined);
    assert.equal(effectiveHealthcheck({ Image: 'x', Healthcheck: { Test: ['NONE'] } }), undefined);
    assert.deepEqual(
      effectiveHealthcheck({ Image: 'x', Healthcheck: { Test: ['CMD-SHELL', 'curl -f x'] } }),
      {
        test: ['curl -f x'],
        shell: true,
        interval: 30e9,
        timeout: 30e9,
        startPeriod: 0,
        startInterval: 5e9,
        retries: 3,
      },
    );
    assert.deepEqual(
      effectiveHealthcheck({ Image: 'x', Healthcheck: { Test: ['CMD', 'true', 'x'], Retries: 1 } })?.test,
      ['true', 'x'],
    );
  });
});
