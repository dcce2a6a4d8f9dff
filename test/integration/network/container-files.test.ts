/**
 * A container's /etc/hosts and /etc/resolv.conf as the network changes, through the real `wharf`
 * binary: `network connect` of a running container adds its new address to its /etc/hosts and
 * points its resolv.conf at aardvark-dns, so it and its new peers resolve each other through
 * the resolver each one uses; `network disconnect` undoes both. And Docker's rules for `--dns`,
 * `--dns-search`, `--dns-option` and `--add-host` with `--network host` and `--network none`.
 * Own bridge (wt-files0) and subnet (10.231.65.0/24).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  eventually,
  makeContainerFixture,
} from '../container/helpers.ts';
import { netnsMissing } from './netns-fixture.ts';

const skip = netnsMissing() ?? (await containerTestsSkipReason());

/** The lines of a resolv.conf that matter (comments and blank lines dropped). */
function resolvLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#') && !line.startsWith(';'));
}

describe('container files and the network', { skip, timeout: 300_000 }, () => {
  let fx: ContainerFixture;

  before(async () => {
    fx = await makeContainerFixture();
  });

  after(async () => {
    await fx?.cleanup();
  });

  it('connect of a running container updates its hosts and resolv.conf; peers resolve it by DNS', async () => {
    await fx.ok([
      'network',
      'create',
      '--subnet',
      '10.231.65.0/24',
      '-o',
      'com.docker.network.bridge.name=wt-files0',
      'filesnet',
    ]);
    try {
      await fx.ok(['run', '-d', '--name', 'peer', '--network', 'filesnet', 'busybox', 'sleep', '600']);
      await fx.ok(['run', '-d', '--name', 'joiner', '--hostname', 'joiner-host', 'busybox', 'sleep', '600']);
      const hostsBefore = await fx.ok(['exec', 'joiner', 'cat', '/etc/hosts']);
      assert.equal((hostsBefore.match(/\tjoiner-host$/gm) ?? []).length, 1, hostsBefore);
      assert.doesNotMatch(await fx.ok(['exec', 'joiner', 'cat', '/etc/resolv.conf']), /10\.231\.65\.1/);

      await fx.ok(['network', 'connect', '--alias', 'jo', 'filesnet', 'joiner']);
      const ip = await fx.ok([
        'inspect',
        '-f',
        '{{(index .NetworkSettings.Networks "filesnet").IPAddress}}',
        'joiner',
      ]);
      assert.match(ip, /^10\.231\.65\.\d+$/);
      const peerIp = await fx.ok([
        'inspect',
        '-f',
        '{{(index .NetworkSettings.Networks "filesnet").IPAddress}}',
        'peer',
      ]);
      const hosts = await fx.ok(['exec', 'joiner', 'cat', '/etc/hosts']);
      assert.match(hosts, new RegExp(`^${ip.replaceAll('.', '\\.')}\\tjoiner-host$`, 'm'));
      assert.equal((hosts.match(/\tjoiner-host$/gm) ?? []).length, 2, 'its bridge line stays');
      const resolv = resolvLines(await fx.ok(['exec', 'joiner', 'cat', '/etc/resolv.conf']));
      assert.equal(
        resolv.find((line) => line.startsWith('nameserver')),
        'nameserver 10.231.65.1',
      );

      // each resolves the other through the nameserver of its own resolv.conf (aardvark-dns)
      const lookup = (from: string, name: string, want: string) =>
        eventually(async () => {
          const out = (await fx.wharf(['exec', from, 'nslookup', name])).stdout;
          return out.includes(want) ? out : undefined;
        }, `${from} resolving ${name} to ${want}`);
      await lookup('peer', 'joiner', ip);
      await lookup('peer', 'jo', ip);
      await lookup('joiner', 'peer', peerIp);

      await fx.ok(['network', 'disconnect', 'filesnet', 'joiner']);
      const hostsAfter = await fx.ok(['exec', 'joiner', 'cat', '/etc/hosts']);
      assert.doesNotMatch(hostsAfter, new RegExp(`^${ip.replaceAll('.', '\\.')}\\t`, 'm'));
      assert.equal((hostsAfter.match(/\tjoiner-host$/gm) ?? []).length, 1);
      assert.doesNotMatch(await fx.ok(['exec', 'joiner', 'cat', '/etc/resolv.conf']), /10\.231\.65\.1/);
      await eventually(async () => {
        const out = (await fx.wharf(['exec', 'peer', 'nslookup', 'joiner'])).stdout;
        return out.includes(ip) ? undefined : out;
      }, 'the name to go with the disconnect');
    } finally {
      await fx.wharf(['rm', '-f', 'peer', 'joiner']);
      await fx.wharf(['network', 'rm', 'filesnet']);
    }
  });

  it('applies --dns, --dns-search and --dns-option with --network host and none, as Docker does', async () => {
    const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    // host networking without the flags: the host's file as it is
    assert.deepEqual(
      resolvLines(await fx.ok(['run', '--rm', '--network', 'host', 'busybox', 'cat', '/etc/resolv.conf'])),
      resolvLines(host),
    );
    const flags = ['--dns', '10.0.0.53', '--dns-search', 'example.test', '--dns-option', 'ndots:3'];
    for (const mode of ['host', 'none']) {
      const lines = resolvLines(
        await fx.ok(['run', '--rm', '--network', mode, ...flags, 'busybox', 'cat', '/etc/resolv.conf']),
      );
      assert.deepEqual(
        lines.filter((line) => /^(nameserver|search|options)\s/.test(line)),
        ['search example.test', 'nameserver 10.0.0.53', 'options ndots:3'],
        `--network ${mode}: ${lines.join(' | ')}`,
      );
    }
    // --dns-search alone keeps the host's nameservers (host networking: loopback ones too)
    const hostServers = resolvLines(host).filter((line) => line.startsWith('nameserver'));
    const searchOnly = resolvLines(
      await fx.ok([
        'run',
        '--rm',
        '--network',
        'host',
        '--dns-search',
        'only.test',
        'busybox',
        'cat',
        '/etc/resolv.conf',
      ]),
    );
    assert.deepEqual(
      searchOnly.filter((line) => line.startsWith('nameserver')),
      hostServers,
    );
    assert.ok(searchOnly.includes('search only.test'), searchOnly.join(' | '));
    // and at every start, not only the first
    const id = await fx.ok([
      'create',
      '--network',
      'none',
      '--dns',
      '10.0.0.54',
      'busybox',
      'cat',
      '/etc/resolv.conf',
    ]);
    await fx.ok(['start', '-a', id]);
    assert.match(await fx.ok(['start', '-a', id]), /^nameserver 10\.0\.0\.54$/m);
    await fx.ok(['rm', id]);
  });

  it('writes --add-host entries with --network host and none', async () => {
    for (const mode of ['host', 'none']) {
      const hosts = await fx.ok([
        'run',
        '--rm',
        '--network',
        mode,
        '--add-host',
        'db.local:10.1.2.3',
        'busybox',
        'cat',
        '/etc/hosts',
      ]);
      assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m, hosts);
      assert.match(hosts, /^10\.1\.2\.3\tdb\.local$/m, hosts);
    }
  });
});
