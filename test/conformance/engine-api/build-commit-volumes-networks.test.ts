/**
 * The docker CLI 28 against `wharf system service`, for the resources around images and builds:
 * `docker commit` (changes, message, author; the committed image runs), `volume create/ls/
 * inspect/rm/prune` (a volume in use is refused), `network create/ls/inspect/connect/disconnect/
 * rm/prune` (a container connected with an alias is reached by it from another container on the
 * network), and last `system prune -af`, which empties the store.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { DOCKER_CLI, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const run = promisify(execFile);

const skip = !existsSync(DOCKER_CLI)
  ? `the docker CLI is not installed at ${DOCKER_CLI}`
  : baseImagesMissing();

describe('docker CLI 28 against wharf system service: commit, volumes, networks, system prune', {
  skip,
  timeout: 600_000,
}, () => {
  let daemon: WharfDaemon | undefined;
  // a subnet of its own: other tests and processes share the machine
  const subnet = `10.${randomInt(120, 200)}.${randomInt(0, 250)}.0/24`;
  const suffix = randomInt(1_000_000).toString(36);
  const network = `wharf-api-net-${suffix}`;

  const docker = async (args: string[]) =>
    (
      await run(DOCKER_CLI, args, {
        env: { ...daemon!.dockerEnv, DOCKER_BUILDKIT: '0' },
        maxBuffer: 64 << 20,
      })
    ).stdout;
  const dockerFails = async (args: string[]) => {
    try {
      await run(DOCKER_CLI, args, { env: daemon!.dockerEnv });
    } catch (error) {
      return (error as { stderr: string }).stderr;
    }
    assert.fail(`docker ${args.join(' ')} succeeded`);
  };

  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
  });

  after(async () => {
    if (daemon) {
      // containers first: their network interfaces and mounts go with them
      const ids = (await docker(['ps', '-aq']).catch(() => '')).trim().split('\n').filter(Boolean);
      if (ids.length > 0) await docker(['rm', '-f', ...ids]).catch(() => {});
      await docker(['network', 'rm', network]).catch(() => {});
    }
    await daemon?.stop();
  });

  it('commits a container with changes, a message and an author; the image runs', async () => {
    await docker([
      'run',
      '-d',
      '--name',
      'to-commit',
      'busybox',
      'sh',
      '-c',
      'echo committed > /hello; sleep 600',
    ]);
    // the file is written right after the start
    for (let i = 0; i < 50; i++) {
      const changes = await docker(['diff', 'to-commit']).catch(() => '');
      if (/\/hello/.test(changes)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const id = (
      await docker([
        'commit',
        '-c',
        'CMD ["cat", "/hello"]',
        '-c',
        'ENV COMMITTED=yes',
        '-m',
        'a test commit',
        '-a',
        'Wharf Tests <tests@wharf.example>',
        'to-commit',
        'committed:1',
      ])
    ).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const inspect = JSON.parse(await docker(['image', 'inspect', 'committed:1']))[0];
    assert.equal(inspect.Id, id);
    assert.deepEqual(inspect.Config.Cmd, ['cat', '/hello']);
    assert.ok(inspect.Config.Env.includes('COMMITTED=yes'), inspect.Config.Env);
    assert.equal(inspect.Comment, 'a test commit');
    assert.equal(inspect.Author, 'Wharf Tests <tests@wharf.example>');
    assert.equal(await docker(['run', '--rm', 'committed:1']), 'committed\n');
    // the container kept running (commit pauses it only while the layer is read)
    assert.equal((await docker(['inspect', '-f', '{{.State.Status}}', 'to-commit'])).trim(), 'running');
    const history = await docker(['history', '--format', '{{.Comment}}', 'committed:1']);
    assert.match(history, /^a test commit$/m);
    await docker(['rm', '-f', 'to-commit']);
  });

  it('creates, lists, inspects and removes volumes; refuses one in use; prunes anonymous ones', async () => {
    assert.equal(await docker(['volume', 'create', '--label', 'team=api', 'data-1']), 'data-1\n');
    assert.equal(await docker(['volume', 'create', 'data-2']), 'data-2\n');
    const names = await docker(['volume', 'ls', '--format', '{{.Name}}']);
    assert.match(names, /^data-1$/m);
    assert.match(names, /^data-2$/m);
    assert.equal(
      await docker(['volume', 'ls', '--filter', 'label=team=api', '--format', '{{.Name}}']),
      'data-1\n',
    );
    const df = await docker(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']);
    assert.match(df, /^Local Volumes=2$/m);
    const inspect = JSON.parse(await docker(['volume', 'inspect', 'data-1']))[0];
    assert.equal(inspect.Driver, 'local');
    assert.deepEqual(inspect.Labels, { team: 'api' });
    assert.match(inspect.Mountpoint, /data-1/);
    try {
      await docker(['run', '-d', '--name', 'uses-volume', '-v', 'data-1:/data', 'busybox', 'sleep', '600']);
      const refused = await dockerFails(['volume', 'rm', 'data-1']);
      assert.match(refused, /volume is in use/);
    } finally {
      await docker(['rm', '-f', 'uses-volume']).catch(() => {});
    }
    assert.equal(await docker(['volume', 'rm', 'data-1', 'data-2']), 'data-1\ndata-2\n');
    const missing = await dockerFails(['volume', 'inspect', 'data-1']);
    assert.match(missing, /no such volume/i);
    // an anonymous volume, left by a container that is gone
    await docker(['run', '--name', 'anonymous', '-v', '/scratch', 'busybox', 'true']);
    const anonymous = (
      await docker(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', 'anonymous'])
    ).trim();
    assert.match(anonymous, /^[0-9a-f]{64}$/);
    await docker(['rm', 'anonymous']);
    const pruned = await docker(['volume', 'prune', '-f']);
    assert.match(pruned, new RegExp(anonymous));
    assert.doesNotMatch(await docker(['volume', 'ls', '-q']), new RegExp(anonymous));
  });

  it('creates a network, connects a running container with an alias, reached by name from another', async () => {
    const id = (
      await docker(['network', 'create', '--subnet', subnet, '--label', 'purpose=test', network])
    ).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const listed = await docker([
      'network',
      'ls',
      '--filter',
      'label=purpose=test',
      '--format',
      '{{.Name}} {{.Driver}}',
    ]);
    assert.equal(listed, `${network} bridge\n`);
    const inspect = JSON.parse(await docker(['network', 'inspect', network]))[0];
    assert.equal(inspect.Id, id);
    assert.equal(inspect.IPAM.Config[0].Subnet, subnet);
    try {
      await docker([
        'run',
        '-d',
        '--name',
        'web',
        'busybox',
        'sh',
        '-c',
        'mkdir /www && echo reached > /www/index.html && httpd -f -p 8080 -h /www',
      ]);
      await docker(['network', 'connect', '--alias', 'the-web', network, 'web']);
      const containers = JSON.parse(
        await docker(['network', 'inspect', '-f', '{{json .Containers}}', network]),
      );
      const endpoint = Object.values(containers)[0] as { Name: string; IPv4Address: string } | undefined;
      assert.ok(endpoint, `network inspect lists the connected container: ${JSON.stringify(containers)}`);
      assert.equal(endpoint.Name, 'web');
      assert.match(
        endpoint.IPv4Address,
        new RegExp(`^${subnet.split('.').slice(0, 3).join('\\.')}\\.\\d+/24$`),
      );
      const networks = JSON.parse(
        await docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'web']),
      );
      assert.ok(networks[network], JSON.stringify(networks));
      const fetched = await docker([
        'run',
        '--rm',
        '--network',
        network,
        'busybox',
        'sh',
        '-c',
        'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://the-web:8080/ && exit 0; sleep 0.3; done; exit 1',
      ]);
      assert.equal(fetched, 'reached\n');
      await docker(['network', 'disconnect', network, 'web']);
      assert.deepEqual(
        JSON.parse(await docker(['network', 'inspect', '-f', '{{json .Containers}}', network])),
        {},
      );
      const busy = await dockerFails(['network', 'rm', 'bridge']);
      assert.match(busy, /pre-defined network/);
    } finally {
      await docker(['rm', '-f', 'web']).catch(() => {});
    }
    assert.equal(await docker(['network', 'rm', network]), `${network}\n`);
    const gone = await dockerFails(['network', 'inspect', network]);
    assert.match(gone, /not found|No such network/i);
    await docker(['network', 'create', '--label', 'purpose=prune', `${network}-unused`]);
    const pruned = await docker(['network', 'prune', '-f', '--filter', 'label=purpose=prune']);
    assert.match(pruned, new RegExp(`${network}-unused`));
  });

  it('docker system prune -af removes stopped containers, unused networks, images and build cache', async () => {
    const dir = daemon!.dir;
    await docker(['run', '--name', 'stopped', 'busybox', 'true']);
    await docker(['network', 'create', `${network}-left`]);
    await run(
      'sh',
      ['-c', `printf 'FROM busybox\\nRUN echo cached > /c\\n' | "${DOCKER_CLI}" build -t prunable -`],
      {
        env: { ...daemon!.dockerEnv, DOCKER_BUILDKIT: '0' },
        cwd: dir,
      },
    );
    const out = await docker(['system', 'prune', '-af']);
    assert.match(out, /Deleted Containers:/);
    assert.match(out, /Deleted Networks:\n(.*\n)*?wharf-api-net-\w+-left/);
    assert.match(out, /Deleted Images:/);
    assert.match(out, /Total reclaimed space: /);
    assert.equal(await docker(['ps', '-aq']), '');
    assert.equal(await docker(['images', '-q']), '');
    assert.doesNotMatch(await docker(['network', 'ls', '--format', '{{.Name}}']), /-left/);
  });
});
