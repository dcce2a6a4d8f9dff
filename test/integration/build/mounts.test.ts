// RUN --mount (bind, cache, tmpfs, secret), --network and --security, on real builds. Each test
// names the items of shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';

const run = promisify(execFile);
const skip = buildTestsMissing();

/** Files under `dir` whose bytes contain `needle` (grep -r, binary files included). */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  try {
    const { stdout } = await run('grep', ['-r', '-l', '-a', '-F', needle, dir], { maxBuffer: 64 << 20 });
    return stdout.split('\n').filter(Boolean);
  } catch (error) {
    if ((error as { code?: number }).code === 1) return [];
    throw error;
  }
}

describe('build: RUN --mount, --network, --security', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('39: --mount with no type is a read-only bind of the context (ignored files left out); no stub stays', async () => {
    const image = await fx.build(
      'FROM busybox\nRUN --mount=target=/context cat /context/testfile > /seen && ! touch /context/new 2>/dev/null && ls -a /context > /listing\n',
      { testfile: 'contents0', secret: 'ignored', '.dockerignore': 'secret\n' },
    );
    assert.equal(await image.read('/seen'), 'contents0');
    assert.deepEqual((await image.read('/listing')).trim().split('\n'), [
      '.',
      '..',
      '.dockerignore',
      'Dockerfile',
      'testfile',
    ]);
    assert.equal(await image.exists('/context'), false);
  });

  it('40, 116: --mount=from=<stage>,rw allows writes that are discarded; its cache key follows the content', async () => {
    const dockerfile = [
      'FROM busybox AS build',
      'COPY cachebust /',
      'RUN mkdir /out && echo foo > /out/foo',
      'FROM busybox AS second',
      'RUN --mount=from=build,src=out,target=/out,rw touch /out/bar && ls /out > /listing && head -c 16 /dev/urandom | od -An -tx1 > /unique',
      'FROM busybox',
      'COPY --from=second /unique /listing /',
      'RUN --mount=from=build,source=/out,target=/check ls /check > /after',
    ].join('\n');
    const first = await fx.build(dockerfile, { cachebust: '0' });
    assert.equal(await first.read('/listing'), 'bar\nfoo\n');
    assert.equal(await first.read('/after'), 'foo\n');
    // the build stage reruns (its COPY changed) and makes the same /out: the RUN stays cached
    const second = await fx.build(dockerfile, { cachebust: '1' });
    assert.doesNotMatch(
      second.output,
      /\[build 3\/3\] RUN mkdir \/out && echo foo > \/out\/foo\n#\d+ CACHED/,
    );
    assert.match(second.output, /\[second 2\/2\] RUN --mount=from=build.*\n#\d+ CACHED/);
    assert.equal(await second.read('/unique'), await first.read('/unique'));
    // a changed /out reruns it
    const third = await fx.build(dockerfile.replace('echo foo', 'echo changed'), { cachebust: '1' });
    assert.notEqual(await third.read('/unique'), await first.read('/unique'));
  });

  it('41, 117: cache mounts persist across RUNs and builds, id defaults to the target, and survive --no-cache', async () => {
    const dockerfile = [
      'FROM busybox',
      'RUN --mount=type=cache,target=/mycache echo one >> /mycache/log',
      'RUN --mount=type=cache,target=/mycache2 [ ! -f /mycache2/log ]',
      'RUN --mount=type=cache,target=/mycache cat /mycache/log > /seen',
      'RUN --mount=type=cache,id=named,target=/a echo x > /a/f',
      'RUN --mount=type=cache,id=named,target=/b cat /b/f > /seen-named',
    ].join('\n');
    const first = await fx.build(dockerfile);
    assert.equal(await first.read('/seen'), 'one\n');
    assert.equal(await first.read('/seen-named'), 'x\n');
    assert.equal(await first.exists('/mycache'), false);
    const again = await fx.build(dockerfile, {}, { noCache: true });
    assert.equal(await again.read('/seen'), 'one\none\n');
    // the cache's contents are in no layer
    for (let i = 0; i < again.config.rootfs.diff_ids.length; i++) {
      const listing = await again.layerListing(i);
      assert.ok(!listing.some((l) => /mycache|\ba\/f$/.test(l)), listing.join('\n'));
    }
  });

  it('42: cache mount uid, gid and mode apply to a fresh cache directory', async () => {
    const image = await fx.build(
      'FROM busybox\nRUN --mount=type=cache,target=/owned-cache,uid=1001,gid=1002,mode=0751 stat -c "%u %g %a" /owned-cache > /st\n',
    );
    assert.equal(await image.read('/st'), '1001 1002 751\n');
  });

  it('43: mount options take variables from ENV, stage ARGs and re-declared global ARGs; ENV ones carry into child stages', async () => {
    const image = await fx.build(
      [
        'ARG META_PATH=/tmp/meta',
        'FROM busybox AS stage1',
        'ENV SOME_PATH=/envcache MNT_ID=envid MNT_TYPE2=cache',
        'ARG MNT_TYPE=cache',
        'ARG META_PATH',
        'RUN --mount=type=cache,target=/envcache touch /envcache/foo',
        'RUN --mount=type=cache,target=$SOME_PATH [ -f $SOME_PATH/foo ]',
        'RUN --mount=type=$MNT_TYPE,target=/argcache touch /argcache/foo',
        'RUN --mount=type=cache,target=/argcache [ -f /argcache/foo ]',
        'RUN --mount=type=cache,id=envid,target=/abc touch /abc/foo',
        'RUN --mount=type=$MNT_TYPE2,id=$MNT_ID,target=/cba [ -f /cba/foo ]',
        'RUN --mount=type=cache,id=metaid,target=/tmp/meta touch /tmp/meta/foo',
        'RUN --mount=type=cache,id=metaid,target=$META_PATH [ -f /tmp/meta/foo ]',
        'FROM stage1',
        'RUN --mount=type=$MNT_TYPE2,id=$MNT_ID,target=/whatever [ -f /whatever/foo ] && echo ok > /ok',
      ].join('\n'),
    );
    assert.equal(await image.read('/ok'), 'ok\n');
  });

  it('44: tmpfs mount contents vanish after the step; size= is honoured', async () => {
    const image = await fx.build(
      'FROM busybox\nRUN --mount=target=/mytmp,type=tmpfs touch /mytmp/foo\nRUN [ ! -f /mytmp/foo ]\nRUN --mount=type=tmpfs,target=/dev/shm,size=128m mount | grep /dev/shm > /tmpfssize\n',
    );
    assert.match(await image.read('/tmpfssize'), /size=131072k/);
    assert.equal(await image.exists('/mytmp'), false);
  });

  it('45: secret mounts: default path, mode/uid/gid, no stub, env= (masked in the name), required', async () => {
    const secrets = new Map([['mysecret', Buffer.from('pw-value-1')]]);
    const image = await fx.build(
      [
        'FROM busybox',
        'RUN --mount=type=secret,id=mysecret [ "$(cat /run/secrets/mysecret)" = "pw-value-1" ] && touch /default-ok',
        'RUN --mount=type=secret,required=false,mode=741,uid=100,gid=102,target=/mysecret stat -c "%u %g %f" /mysecret > /st',
        'RUN [ ! -e /mysecret ] && [ ! -e /run ] && touch /no-stub',
        'ENV SECRET_ENV=foo',
        'RUN --mount=type=secret,id=mysecret,env=SECRET_ENV [ "$SECRET_ENV" = "pw-value-1" ] && [ ! -f /run/secrets/mysecret ] && touch /env-ok',
        'RUN --mount=type=secret,id=mysecret,target=/run/secrets/secret,env=SECRET_ENV [ "$SECRET_ENV" = "pw-value-1" ] && [ -f /run/secrets/secret ] && touch /both-ok',
        'RUN --mount=type=secret,id=missing echo "$(ls /run/secrets 2>&1)" > /optional',
      ].join('\n'),
      {},
      { secrets },
    );
    for (const file of ['/default-ok', '/no-stub', '/env-ok', '/both-ok'])
      assert.ok(await image.exists(file), file);
    assert.equal(await image.read('/st'), '100 102 81e1\n');
    assert.match(await image.read('/optional'), /No such file/);
    assert.match(
      image.output,
      /RUN --mount=type=secret,id=mysecret,env=SECRET_ENV \[ "\*\*\*\*" = "pw-value-1" \]/,
    );
    // the ENV value stays in the config: the secret only shadows it for the RUN
    assert.ok(image.config.config?.Env?.includes('SECRET_ENV=foo'));
    const { error } = await fx.fails('FROM busybox\nRUN --mount=type=secret,required,id=mysecret true\n');
    assert.match(error.message, /secret mysecret: not found/);
  });

  it('45, issue 12: a --secret is readable by the RUN and in no layer, history entry, cache key or progress output', async () => {
    const value = 'wharf-secret-7f3a9c1e5b';
    const dockerfile = [
      'FROM busybox',
      'RUN --mount=type=secret,id=token sha256sum /run/secrets/token | cut -d" " -f1 > /token.sha && cp /run/secrets/token /dev/null && echo "printed: $(cat /run/secrets/token)"',
      'RUN --mount=type=secret,id=token,env=TOKEN echo "env: $TOKEN" && test -n "$TOKEN"',
    ].join('\n');
    const image = await fx.build(dockerfile, {}, { secrets: new Map([['token', Buffer.from(value)]]) });
    const { createHash } = await import('node:crypto');
    assert.equal(await image.read('/token.sha'), `${createHash('sha256').update(value).digest('hex')}\n`);
    // the RUN printed it: progress shows **** instead
    assert.match(image.output, /printed: \*\*\*\*/);
    assert.match(image.output, /env: \*\*\*\*/);
    assert.ok(!image.output.includes(value), 'the secret is in the progress output');
    assert.ok(!JSON.stringify(image.config).includes(value), 'the secret is in the image config or history');
    // no layer, no cache record, no snapshot, nothing under the root holds it
    assert.deepEqual(await filesContaining(fx.root, value), []);
    // and the cache key does not depend on it: another value keeps every step cached
    const again = await fx.build(
      dockerfile,
      {},
      { secrets: new Map([['token', Buffer.from('another-value')]]) },
    );
    assert.equal(again.executed, 0);
    assert.equal(again.imageId, image.imageId);
  });

  it('47: flag and option typos fail with suggestions', async () => {
    const flag = await fx.fails('FROM busybox\nRUN --mont=target=/mytmp,type=tmpfs true\n');
    assert.match(flag.error.message, /unknown flag: --mont/);
    assert.match(flag.error.message, /did you mean mount\?/);
    const key = await fx.fails('FROM busybox\nRUN --mount=typ=tmpfs true\n');
    assert.match(key.error.message, /unexpected key 'typ'/);
    const type = await fx.fails('FROM busybox\nRUN --mount=type=tmp true\n');
    assert.match(type.error.message, /unsupported mount type "tmp" \(did you mean tmpfs\?\)/);
  });

  it('48: several mounts (nested, a single file); sources re-read when the context changes; nested caches in parallel stages; a cache source through a symlink fails', async () => {
    const ctx = await fx.context({
      Dockerfile:
        'FROM busybox\nRUN --mount=source=.,target=/tmp/test --mount=source=b.txt,target=/tmp/test/sub/b.txt --mount=source=b.txt,target=/tmp/b.txt cat /tmp/test/a.txt /tmp/test/sub/b.txt /tmp/b.txt > /combined.txt\n',
      'a.txt': 'A1\n',
      'b.txt': 'B\n',
      // the nested target exists in the read-only bind below it
      'sub/b.txt': 'shadowed\n',
    });
    const first = await fx.buildIn(ctx);
    assert.equal(await first.read('/combined.txt'), 'A1\nB\nB\n');
    assert.equal(await first.exists('/tmp/b.txt'), false);
    await writeFile(join(ctx, 'a.txt'), 'A2\n');
    const second = await fx.buildIn(ctx);
    assert.equal(await second.read('/combined.txt'), 'A2\nB\nB\n');
    const parallel = await fx.build(
      [
        'FROM busybox AS b1',
        'RUN --mount=type=cache,target=/foo/bar --mount=type=cache,target=/foo/bar/baz echo 1 > /foo/bar/baz/one && sleep 0.5',
        'FROM busybox AS b2',
        'RUN --mount=type=cache,target=/foo/bar --mount=type=cache,target=/foo/bar/baz cat /foo/bar/baz/one 2>/dev/null; echo 2 > /done',
        'FROM scratch',
        'COPY --from=b1 /bin/busybox /b1',
        'COPY --from=b2 /done /b2',
      ].join('\n'),
    );
    assert.equal(await parallel.read('/b2'), '2\n');
    const escaped = await fx.fails(
      [
        'FROM busybox AS init',
        'RUN --mount=type=cache,id=sourceescape,target=/cache mkdir -p /cache/sel && echo benign > /cache/sel/benign.txt',
        'FROM init AS link',
        'RUN --mount=type=cache,id=sourceescape,target=/cache rm -rf /cache/sel && ln -s /etc /cache/sel',
        'FROM link AS victim',
        'RUN --mount=type=cache,id=sourceescape,source=sel,target=/victim cat /victim/passwd',
      ].join('\n'),
      {},
      { noCache: true },
    );
    assert.match(escaped.error.message, /resolves through a symlink/);
  });

  it('cache mount sharing: locked users take turns; private users get their own instance', async () => {
    const locked = await fx.build(
      [
        'FROM busybox AS a',
        'RUN --mount=type=cache,id=lockme,target=/c,sharing=locked mkdir /c/busy && sleep 1 && rmdir /c/busy && echo a > /a',
        'FROM busybox AS b',
        'RUN --mount=type=cache,id=lockme,target=/c,sharing=locked mkdir /c/busy && sleep 1 && rmdir /c/busy && echo b > /b',
        'FROM scratch',
        'COPY --from=a /a /a',
        'COPY --from=b /b /b',
      ].join('\n'),
    );
    assert.equal(await locked.read('/a'), 'a\n');
    assert.equal(await locked.read('/b'), 'b\n');
    const priv = await fx.build(
      [
        'FROM busybox AS a',
        'RUN --mount=type=cache,id=privme,target=/c,sharing=private touch /c/mark-a && sleep 1.5 && ls /c > /a',
        'FROM busybox AS b',
        'RUN --mount=type=cache,id=privme,target=/c,sharing=private sleep 0.5 && touch /c/mark-b && ls /c > /b',
        'FROM scratch',
        'COPY --from=a /a /a',
        'COPY --from=b /b /b',
      ].join('\n'),
    );
    // running at the same time, neither saw the other's file
    assert.equal(await priv.read('/a'), 'mark-a\n');
    assert.equal(await priv.read('/b'), 'mark-b\n');
  });

  it('38: the BUILDKIT_SANDBOX_HOSTNAME build-arg (or the hostname option) sets the sandbox hostname: /etc/hosts, $HOSTNAME, hostname', async () => {
    const dockerfile =
      'FROM busybox\nRUN grep foo /etc/hosts > /hosts && echo "$HOSTNAME" > /env && hostname > /h\n';
    const byArg = await fx.build(
      dockerfile,
      {},
      { buildArgs: new Map([['BUILDKIT_SANDBOX_HOSTNAME', 'foo']]) },
    );
    assert.match(await byArg.read('/hosts'), /127\.0\.0\.1\s+localhost foo/);
    assert.equal(await byArg.read('/env'), 'foo\n');
    assert.equal(await byArg.read('/h'), 'foo\n');
    // the option, and the build-arg winning over it
    const byOption = await fx.build(dockerfile, {}, { hostname: 'foo' });
    assert.equal(await byOption.read('/h'), 'foo\n');
    const both = await fx.build(
      dockerfile,
      {},
      {
        hostname: 'bar',
        buildArgs: new Map([['BUILDKIT_SANDBOX_HOSTNAME', 'foo']]),
      },
    );
    assert.equal(await both.read('/h'), 'foo\n');
  });

  it('49: --network=host needs the network.host entitlement; with it the RUN sees the host interfaces', async () => {
    const dockerfile = 'FROM busybox\nRUN --network=host ls /sys/class/net > /nets\n';
    const denied = await fx.fails(dockerfile);
    assert.match(denied.error.message, /entitlement network\.host is not allowed/);
    const image = await fx.build(dockerfile, {}, { allow: ['network.host'] });
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(
      (await image.read('/nets')).trim().split('\n').sort(),
      (await readdir('/sys/class/net')).sort(),
    );
  });

  it('50: --security=insecure needs security.insecure and grants every capability and the host devices; the default is restricted', async () => {
    const dockerfile = [
      'FROM busybox',
      'RUN --security=insecure grep CapBnd /proc/self/status > /insecure && [ -c /dev/loop-control ] && mkdir -p /m && mount -t tmpfs none /m && umount /m && touch /devices-ok',
      'RUN --security=sandbox grep CapBnd /proc/self/status > /sandbox',
      'RUN grep CapBnd /proc/self/status > /default && [ ! -e /dev/loop-control ]',
    ].join('\n');
    const denied = await fx.fails(dockerfile);
    assert.match(denied.error.message, /entitlement security\.insecure is not allowed/);
    const image = await fx.build(dockerfile, {}, { allow: ['security.insecure'] });
    const host = /CapBnd:\s*([0-9a-f]+)/.exec(await readFile('/proc/self/status', 'utf8'))![1];
    assert.equal((await image.read('/insecure')).trim(), `CapBnd:\t${host}`);
    assert.ok(await image.exists('/devices-ok'));
    assert.equal((await image.read('/sandbox')).trim(), 'CapBnd:\t00000000a80425fb');
    assert.equal((await image.read('/default')).trim(), 'CapBnd:\t00000000a80425fb');
  });
});
