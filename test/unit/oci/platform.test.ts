import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chainIds } from '../../../src/oci/chain-id.ts';
import { digestBytes } from '../../../src/oci/digest.ts';
import {
  formatPlatform,
  hostPlatform,
  parsePlatform,
  platformMatches,
  selectPlatformManifest,
} from '../../../src/oci/platform.ts';

describe('platform', () => {
  it('parses and normalizes specifiers', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(parsePlatform('linux/armhf'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
    assert.deepEqual(parsePlatform('linux/amd64/v3'), { os: 'linux', architecture: 'amd64', variant: 'v3' });
    assert.equal(parsePlatform('linux').os, 'linux');
    assert.throws(() => parsePlatform('linux/amd64/v1/x'), /Cannot parse platform/);
    assert.throws(() => parsePlatform('linux//amd64'), /Cannot parse platform/);
  });

  it('formats as Docker prints', () => {
    assert.equal(formatPlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }), 'linux/arm64');
    assert.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
    assert.equal(formatPlatform({ os: 'linux', architecture: 'x86_64' }), 'linux/amd64');
  });

  it('knows the host', () => {
    const host = hostPlatform();
    assert.equal(host.os, 'linux');
    if (process.arch === 'x64') assert.equal(host.architecture, 'amd64');
  });

  it('selects the best manifest of an index, variants included', () => {
    const entries = [
      { digest: 'att', platform: { os: 'unknown', architecture: 'unknown' } },
      { digest: 'arm5', platform: { os: 'linux', architecture: 'arm', variant: 'v5' } },
      { digest: 'arm7', platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { digest: 'arm64', platform: { os: 'linux', architecture: 'arm64' } },
      { digest: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      { digest: 'amd64v3', platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } },
      { digest: 'nopf' },
    ];
    assert.equal(selectPlatformManifest(entries, parsePlatform('linux/arm/v7'))?.digest, 'arm7');
    assert.equal(selectPlatformManifest(entries, parsePlatform('linux/arm/v6'))?.digest, 'arm5');
    assert.equal(selectPlatformManifest(entries, parsePlatform('linux/arm64/v8'))?.digest, 'arm64');
    assert.equal(selectPlatformManifest(entries, parsePlatform('linux/amd64'))?.digest, 'amd64');
    assert.equal(selectPlatformManifest(entries, parsePlatform('linux/amd64/v4'))?.digest, 'amd64v3');
    assert.equal(selectPlatformManifest(entries, parsePlatform('linux/s390x')), undefined);
    assert.equal(selectPlatformManifest(entries, parsePlatform('windows/amd64')), undefined);
    assert.ok(
      platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'aarch64' }),
    );
  });
});

describe('chain ids', () => {
  it('chains diffIDs as the image spec defines', () => {
    const a = digestBytes('a');
    const b = digestBytes('b');
    const c = digestBytes('c');
    const ids = chainIds([a, b, c]);
    assert.equal(ids[0], a);
    assert.equal(ids[1], digestBytes(`${a} ${b}`));
    assert.equal(ids[2], digestBytes(`${ids[1]} ${c}`));
    assert.deepEqual(chainIds([]), []);
  });
});
