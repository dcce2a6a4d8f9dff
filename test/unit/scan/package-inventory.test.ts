import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseApkInstalled } from '../../../src/scan/apk-installed.ts';
import { parseDpkgStatus } from '../../../src/scan/dpkg-status.ts';
import { osvEcosystem, parseOsRelease } from '../../../src/scan/os-release.ts';
import { inventoryFromFiles } from '../../../src/scan/package-inventory.ts';

describe('os-release', () => {
  it('parses quoted values and maps Debian, Alpine and Ubuntu to their OSV ecosystems', () => {
    const debian = parseOsRelease(
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    );
    assert.equal(debian.prettyName, 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(osvEcosystem(debian), 'Debian:12');
    assert.equal(osvEcosystem(parseOsRelease('ID=alpine\nVERSION_ID=3.19.1\n')), 'Alpine:v3.19');
    const ubuntu = parseOsRelease("# comment\nID=ubuntu\nID_LIKE=debian\nVERSION_ID='22.04'\n");
    assert.deepEqual(ubuntu.idLike, ['debian']);
    assert.equal(osvEcosystem(ubuntu), 'Ubuntu:22.04');
  });
  it('has no ecosystem for unknown systems or a missing version', () => {
    assert.equal(osvEcosystem(parseOsRelease('ID=fedora\nVERSION_ID=39\n')), undefined);
    assert.equal(osvEcosystem(parseOsRelease('ID=debian\n')), undefined);
  });
});

describe('dpkg status', () => {
  it('keeps installed packages with their source name and version', () => {
    const status = [
      'Package: libssl3',
      'Status: install ok installed',
      'Source: openssl',
      'Version: 3.0.11-1~deb12u1',
      'Description: SSL',
      ' continuation: not a field',
      '',
      'Package: bsdutils',
      'Status: install ok installed',
      'Source: util-linux (2.38.1-5+deb12u1)',
      'Version: 1:2.38.1-5+deb12u1',
      '',
      'Package: gone',
      'Status: deinstall ok config-files',
      'Version: 1.0',
      '',
      'Package: bash',
      'Status: install ok installed',
      'Version: 5.2.15-2+b2',
      '',
    ].join('\n');
    assert.deepEqual(parseDpkgStatus(status), [
      {
        name: 'libssl3',
        version: '3.0.11-1~deb12u1',
        sourceName: 'openssl',
        sourceVersion: '3.0.11-1~deb12u1',
      },
      {
        name: 'bsdutils',
        version: '1:2.38.1-5+deb12u1',
        sourceName: 'util-linux',
        sourceVersion: '2.38.1-5+deb12u1',
      },
      { name: 'bash', version: '5.2.15-2+b2', sourceName: 'bash', sourceVersion: '5.2.15-2+b2' },
    ]);
  });
});

describe('apk installed', () => {
  it('reads P, V and o of each block', () => {
    const db =
      'C:Q1abc=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n\nP:musl\nV:1.2.4_git20230717-r4\n\n';
    assert.deepEqual(parseApkInstalled(db), [
      { name: 'libcrypto3', version: '3.1.4-r5', sourceName: 'openssl', sourceVersion: '3.1.4-r5' },
      {
        name: 'musl',
        version: '1.2.4_git20230717-r4',
        sourceName: 'musl',
        sourceVersion: '1.2.4_git20230717-r4',
      },
    ]);
  });
});

describe('inventoryFromFiles', () => {
  it('prefers /etc/os-release and the dpkg database', () => {
    const inventory = inventoryFromFiles(
      new Map([
        ['etc/os-release', Buffer.from('ID=alpine\nVERSION_ID=3.19.0\n')],
        ['usr/lib/os-release', Buffer.from('ID=debian\nVERSION_ID=12\n')],
        ['lib/apk/db/installed', Buffer.from('P:busybox\nV:1.36.1-r15\n')],
      ]),
    );
    assert.equal(inventory.ecosystem, 'Alpine:v3.19');
    assert.equal(inventory.packageDb, 'apk');
    assert.equal(inventory.packages.length, 1);
    const none = inventoryFromFiles(new Map());
    assert.equal(none.os, undefined);
    assert.equal(none.ecosystem, undefined);
    assert.deepEqual(none.packages, []);
  });
});
