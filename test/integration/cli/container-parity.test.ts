/**
 * Container verbs where Wharf answered differently from Docker (found by running both side by
 * side): each case is what the docker CLI 28 against dockerd prints and exits with.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  makeContainerFixture,
} from '../container/helpers.ts';

const skip = await containerTestsSkipReason();

describe('container verbs as Docker answers them', { skip }, () => {
  let fx: ContainerFixture;
  let work: string;

  before(async () => {
    fx = await makeContainerFixture();
    work = await mkdtemp(join(tmpdir(), 'wharf-parity-'));
  });

  after(async () => {
    await fx?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('reads --env-file itself: a missing or bad file is exit 125 with docker/cli words', async () => {
    // node 20 used to take --env-file for its own and exit 9 before wharf ran
    const missing = join(work, 'missing.env');
    const gone = await fx.wharf([
      'run',
      '--rm',
      '--network',
      'none',
      '--env-file',
      missing,
      'busybox',
      'true',
    ]);
    assert.equal(gone.code, 125);
    assert.equal(gone.stderr, `Error: open ${missing}: no such file or directory\n`);
    const dir = await fx.wharf(['run', '--rm', '--network', 'none', '--env-file', work, 'busybox', 'true']);
    assert.equal(dir.code, 125);
    assert.equal(dir.stderr, `Error: invalid env file (${work}): read ${work}: is a directory\n`);
    const spaced = join(work, 'spaced.env');
    await writeFile(spaced, 'a b=1\n');
    const bad = await fx.wharf(['create', '--env-file', spaced, 'busybox']);
    assert.equal(bad.code, 125);
    assert.equal(bad.stderr, `Error: invalid env file (${spaced}): variable 'a b' contains whitespaces\n`);
    const good = join(work, 'good.env');
    await writeFile(good, '\uFEFFA=1\n  # comment\n\nFROM_HOST\nC=x y \n');
    const read = await fx.wharf(
      [
        'run',
        '--rm',
        '--network',
        'none',
        '--env-file',
        good,
        'busybox',
        'sh',
        '-c',
        'echo "$A|$FROM_HOST|$C|"',
      ],
      { env: { FROM_HOST: 'h' } },
    );
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, '1|h|x y |\n');
    // a bare key in a label file has no value to look up: docker drops it
    const labels = join(work, 'labels');
    await writeFile(labels, 'bare\nkept=1\n');
    const id = await fx.ok(['create', '--label-file', labels, 'busybox']);
    assert.equal(await fx.ok(['inspect', '-f', '{{json .Config.Labels}}', id]), '{"kept":"1"}');
  });

  it('mounts a volume where the image has no parent directories', async () => {
    assert.equal(
      await fx.ok([
        'run',
        '--rm',
        '--network',
        'none',
        '-v',
        '/var/lib/data',
        'busybox',
        'ls',
        '-d',
        '/var/lib/data',
      ]),
      '/var/lib/data',
    );
    assert.equal(
      await fx.ok(['run', '--rm', '--network', 'none', '-v', 'deep:/a/b/c', 'busybox', 'ls', '-d', '/a/b/c']),
      '/a/b/c',
    );
  });

  it('rm -f of a missing container prints the error and still exits 0', async () => {
    const id = await fx.ok(['create', '--name', 'doomed', 'busybox']);
    const forced = await fx.wharf(['rm', '-f', 'doomed', 'nosuch']);
    assert.equal(forced.code, 0);
    assert.equal(forced.stdout, 'doomed\n');
    assert.equal(forced.stderr, 'Error response from daemon: No such container: nosuch\n');
    assert.equal((await fx.wharf(['inspect', id])).code, 1);
    const plain = await fx.wharf(['rm', 'nosuch']);
    assert.equal(plain.code, 1);
  });

  it('runs inspect templates on the typed struct: unset fields exist, nil slices print []', async () => {
    await fx.ok(['create', '--name', 'typed', '-p', '127.0.0.1:8080:80', '--expose', '90', 'busybox']);
    const format = (template: string) => fx.ok(['inspect', '-f', template, 'typed']);
    assert.equal(
      await format('{{.Config.Entrypoint}}|{{.HostConfig.Binds}}|{{.HostConfig.Dns}}'),
      '[]|[]|[]',
    );
    assert.equal(
      await format('{{.Config.StopSignal}}|{{.Config.StopTimeout}}|{{.State.Health}}'),
      '|<nil>|<nil>',
    );
    assert.equal(await format('{{.HostConfig.PortBindings}}'), 'map[80/tcp:[{127.0.0.1 8080}]]');
    assert.equal(await format('{{json .Config.ExposedPorts}}'), '{"80/tcp":{},"90/tcp":{}}');
    assert.equal(await format('{{.HostConfig.Tmpfs}}|{{.HostConfig.ConsoleSize}}'), 'map[]|[0 0]');
    assert.equal(await format('{{.SizeRw}}'), '<nil>');
    assert.match(await fx.ok(['inspect', '-s', '-f', '{{.SizeRw}} {{.SizeRootFs}}', 'typed']), /^\d+ \d+$/);
    // a field Docker's struct does not have still fails, on the raw JSON
    const unknown = await fx.wharf(['inspect', '-f', '{{.Nope}}', 'typed']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /map has no entry for key "Nope"/);
    // the JSON has every field of Docker's structs, unset ones as their zero values
    const [raw] = JSON.parse(await fx.ok(['inspect', 'typed'])) as Array<{
      HostConfig: Record<string, unknown>;
      Config: Record<string, unknown>;
    }>;
    for (const key of ['Binds', 'Dns', 'ExtraHosts', 'VolumesFrom', 'MaskedPaths', 'Links', 'GroupAdd'])
      assert.equal(raw!.HostConfig[key], null, key);
    assert.deepEqual(raw!.HostConfig.ConsoleSize, [0, 0]);
    assert.equal(raw!.HostConfig.IpcMode, '');
    assert.equal(raw!.Config.Domainname, '');
    assert.equal(raw!.Config.OnBuild, null);
    assert.ok(!('StopSignal' in raw!.Config), 'omitempty fields stay out of the JSON');
    assert.deepEqual(Object.keys(raw!.HostConfig).slice(0, 4), [
      'Binds',
      'ContainerIDFile',
      'LogConfig',
      'NetworkMode',
    ]);
  });

  it('refuses a --cidfile that exists before making a container', async () => {
    const cidfile = join(work, 'cid');
    const id = await fx.ok(['create', '--cidfile', cidfile, 'busybox']);
    assert.equal(await readFile(cidfile, 'utf8'), id);
    const before = await fx.ok(['ps', '-aq']);
    const again = await fx.wharf(['create', '--cidfile', cidfile, 'busybox']);
    assert.equal(again.code, 125);
    assert.equal(
      again.stderr,
      `Error: container ID file found, make sure the other container isn't running or delete ${cidfile}\n`,
    );
    assert.equal(await fx.ok(['ps', '-aq']), before, 'no container was made');
    // a failed create leaves no empty file behind
    const unused = join(work, 'cid-unused');
    assert.equal((await fx.wharf(['create', '--cidfile', unused, 'no-such-image'])).code, 125);
    await assert.rejects(readFile(unused), { code: 'ENOENT' });
  });

  it('checks a ps --format before listing, and fills Size and Platform in its JSON', async () => {
    const parse = await fx.wharf(['ps', '--filter', 'name=^none-at-all$', '--format', '{{']);
    assert.equal(parse.code, 1);
    assert.equal(parse.stderr, 'failed to parse template: template: :1: unclosed action\n');
    const exec = await fx.wharf(['ps', '--filter', 'name=^none-at-all$', '--format', '{{.Nope}}']);
    assert.equal(exec.code, 1);
    assert.equal(
      exec.stderr,
      'failed to execute template: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext\n',
    );
    await fx.ok(['create', '--name', 'listed', 'busybox']);
    const row = JSON.parse(
      await fx.ok(['ps', '-a', '--filter', 'name=^listed$', '--format', 'json']),
    ) as Record<string, unknown>;
    assert.equal(row.Size, '0B');
    assert.equal(row.Platform, null);
    assert.deepEqual(Object.keys(row), [...Object.keys(row)].sort());
    assert.equal(
      await fx.ok(['ps', '-a', '--filter', 'name=^listed$', '--format', '{{.Platform}}']),
      '<nil>',
    );
  });

  it('start names the containers it could not start at the end', async () => {
    await fx.ok(['create', '--name', 'startable', '--network', 'none', 'busybox', 'true']);
    const result = await fx.wharf(['start', 'nosuch', 'startable', 'other']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, 'startable\n');
    assert.equal(
      result.stderr,
      'Error response from daemon: No such container: nosuch\n' +
        'Error response from daemon: No such container: other\n' +
        'Error: failed to start containers: nosuch, other\n',
    );
  });

  it('validates --dns, --add-host and --stop-signal as Docker does', async () => {
    const dns = await fx.wharf(['create', '--dns', 'bad', 'busybox']);
    assert.equal(dns.code, 125);
    assert.equal(
      dns.stderr,
      'Error: invalid argument "bad" for "--dns" flag: IP address is not correctly formatted: bad\n',
    );
    const host = await fx.wharf(['create', '--add-host', 'foo', 'busybox']);
    assert.equal(
      host.stderr,
      'Error: invalid argument "foo" for "--add-host" flag: bad format for add-host: "foo"\n',
    );
    const signal = await fx.wharf(['create', '--stop-signal', 'BOGUS', 'busybox']);
    assert.equal(signal.code, 125);
    assert.equal(signal.stderr, 'Error: Invalid signal: BOGUS\n');
    for (const good of ['SIGUSR1', 'usr2', '9', 'RTMIN+3']) {
      const id = await fx.ok(['create', '--stop-signal', good, 'busybox']);
      assert.equal(await fx.ok(['inspect', '-f', '{{.Config.StopSignal}}', id]), good);
    }
  });

  it('top, exec -u and rename answer as docker/cli does', async () => {
    await fx.ok(['run', '-d', '--name', 'topped', '--network', 'none', 'busybox', 'sleep', '60']);
    const top = await fx.ok(['top', 'topped']);
    // docker/cli's top: tabwriter with a minimum width of 20
    assert.match(top, /^UID {17}PID {17}PPID {16}C {19}STIME/);
    const user = await fx.wharf(['exec', '-u', 'nosuchuser', 'topped', 'id']);
    assert.equal(user.code, 126);
    assert.match(user.stderr, /unable to find user nosuchuser: no matching entries in passwd file/);
    await fx.ok(['create', '--name', 'taken', 'busybox']);
    const clash = await fx.wharf(['rename', 'topped', 'taken']);
    assert.equal(clash.code, 1);
    assert.match(
      clash.stderr,
      /^Error response from daemon: Conflict\. The container name "\/taken" is already in use/,
    );
    assert.match(clash.stderr, /\nError: failed to rename container named topped\n$/);
    const empty = await fx.wharf(['rename', 'topped', ' ']);
    assert.equal(empty.code, 1);
    assert.equal(empty.stderr, 'Error: Neither old nor new names may be empty\n');
  });
});
