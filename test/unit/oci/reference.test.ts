import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  familiarString,
  formatReference,
  isValidRepositoryName,
  isValidTag,
  normalizeReferenceString,
  parseAnyReference,
  parseDockerRef,
  parseNormalizedReference,
  parseReference,
  ReferenceFormatError,
} from '../../../src/oci/reference.ts';

const H64 = 'a'.repeat(64);
const D = `sha256:${H64}`;

// input -> normalized full string (ParseNormalizedNamed(...).String()) and familiar string
const VALID: Array<[string, string, string]> = [
  ['busybox', 'docker.io/library/busybox', 'busybox'],
  ['busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['library/busybox', 'docker.io/library/busybox', 'busybox'],
  ['docker.io/busybox', 'docker.io/library/busybox', 'busybox'],
  ['index.docker.io/busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['docker.io/library/a/b', 'docker.io/library/a/b', 'library/a/b'],
  ['user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
  ['localhost/app', 'localhost/app', 'localhost/app'],
  ['localhost:5000/a/b:tag', 'localhost:5000/a/b:tag', 'localhost:5000/a/b:tag'],
  ['example.com/x/y/z', 'example.com/x/y/z', 'example.com/x/y/z'],
  ['Example.com/x', 'Example.com/x', 'Example.com/x'],
  ['127.0.0.1:5000/app:1', '127.0.0.1:5000/app:1', '127.0.0.1:5000/app:1'],
  ['[::1]:5000/app', '[::1]:5000/app', '[::1]:5000/app'],
  ['a__b/c.d/e-f/g_h/i---j', 'docker.io/a__b/c.d/e-f/g_h/i---j', 'a__b/c.d/e-f/g_h/i---j'],
  [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
  [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`, `busybox:1@${D}`],
  [`localhost:5000/a@${D}`, `localhost:5000/a@${D}`, `localhost:5000/a@${D}`],
  // a bare host:port is a name with a tag, as Docker reads it (its FIXME)
  ['localhost:5000', 'docker.io/library/localhost:5000', 'localhost:5000'],
  ['busybox:_tag.-x', 'docker.io/library/busybox:_tag.-x', 'busybox:_tag.-x'],
  [`x:${'t'.repeat(128)}`, `docker.io/library/x:${'t'.repeat(128)}`, `x:${'t'.repeat(128)}`],
];

// input -> substring of the reason
const INVALID: Array<[string, string]> = [
  ['', 'invalid reference format'],
  ['Busybox', 'repository name (library/Busybox) must be lowercase'],
  ['user/App:tag', 'repository name (user/App) must be lowercase'],
  [H64, 'cannot specify 64-byte hexadecimal strings'],
  ['busybox:-tag', 'invalid reference format'],
  ['busybox:a:b', 'invalid reference format'],
  [`x:${'t'.repeat(129)}`, 'invalid reference format'],
  ['a___b', 'invalid reference format'],
  ['a..b', 'invalid reference format'],
  ['-a', 'invalid reference format'],
  ['a-', 'invalid reference format'],
  ['a/', 'invalid reference format'],
  ['/a', 'invalid reference format'],
  ['a//b', 'invalid reference format'],
  ['busybox@sha256:abc', 'invalid reference format'],
  [`busybox@sha256:${'a'.repeat(32)}`, 'invalid checksum digest length'],
  [`busybox@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
  [`busybox@sha256:${'A'.repeat(64)}`, 'invalid checksum digest format'],
  [`${'a'.repeat(256)}`, 'must not be more than 255 characters'],
  ['a b', 'invalid reference format'],
];

describe('reference grammar (distribution/reference)', () => {
  for (const [input, full, familiar] of VALID) {
    it(`accepts ${JSON.stringify(input.slice(0, 60))}`, () => {
      const ref = parseNormalizedReference(input);
      assert.equal(formatReference(ref), full);
      assert.equal(familiarString(ref), familiar);
    });
  }
  for (const [input, reason] of INVALID) {
    it(`rejects ${JSON.stringify(input.slice(0, 60))} (${reason})`, () => {
      assert.throws(
        () => parseNormalizedReference(input),
        (error: Error) => {
          assert.equal(error.name, 'InvalidArgumentError');
          assert.ok(error.message.includes(reason), `${error.message} should include ${reason}`);
          return true;
        },
      );
    });
  }

  it("quotes the user's input, not its docker.io/library/ spelling, with distribution's reason", () => {
    for (const input of ['ok:bad tag', 'busybox:-tag', 'a//b']) {
      assert.throws(
        () => parseNormalizedReference(input),
        (error: Error) => {
          assert.equal(error.message, `Cannot parse reference "${input}": invalid reference format`);
          assert.ok(error instanceof ReferenceFormatError);
          assert.equal(error.reason, 'invalid reference format');
          return true;
        },
      );
    }
  });

  it('splits domain and path', () => {
    assert.deepEqual(parseNormalizedReference('localhost:5000/a/b:tag'), {
      domain: 'localhost:5000',
      path: 'a/b',
      tag: 'tag',
    });
    // unnormalized parse keeps no domain for a familiar name
    assert.deepEqual(parseReference('busybox'), { domain: '', path: 'busybox' });
  });

  it('adds latest, and drops the tag next to a digest (ParseDockerRef)', () => {
    assert.equal(formatReference(parseDockerRef('busybox')), 'docker.io/library/busybox:latest');
    assert.equal(formatReference(parseDockerRef(`busybox:1@${D}`)), `docker.io/library/busybox@${D}`);
    assert.equal(normalizeReferenceString('localhost:5000/x'), 'localhost:5000/x:latest');
  });

  it('treats ids and digests as image ids (ParseAnyReference)', () => {
    assert.deepEqual(parseAnyReference(H64), { kind: 'digest', digest: D });
    assert.deepEqual(parseAnyReference(D), { kind: 'digest', digest: D });
    const named = parseAnyReference('abc123');
    assert.equal(named.kind, 'named');
  });

  it('has the OCI distribution spec patterns for the registry', () => {
    for (const ok of ['a', 'a/b', 'a.b/c_d/e__f/g--h', 'library/busybox'])
      assert.ok(isValidRepositoryName(ok), ok);
    for (const bad of ['A', 'a/', '_a', 'a..b', 'a:5000/b', 'a'.repeat(256)]) {
      assert.equal(isValidRepositoryName(bad), false, bad);
    }
    assert.ok(isValidTag('v1.0_rc-1'));
    assert.equal(isValidTag('.x'), false);
    assert.equal(isValidTag('t'.repeat(129)), false);
  });
});
