/**
 * Debian's docker-compose 1.29 (Python, docker-py: a client of the Engine API of its own)
 * against `wharf system service`: a two-service project, `api` (busybox httpd, an image from the
 * store) and `web` (built from a Dockerfile by docker-py's own `POST /build` client, not the
 * docker CLI: COMPOSE_DOCKER_CLI_BUILD=0), `web` reaching `api` by its
 * service name on the project network; then `ps`, `logs` and `down`, which leaves no container
 * and no network of the project behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { DOCKER_CLI, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const run = promisify(execFile);
const COMPOSE = '/usr/bin/docker-compose';

const skip = !existsSync(COMPOSE)
  ? `docker-compose is not installed at ${COMPOSE} (apt-get install docker-compose)`
  : !existsSync(DOCKER_CLI)
    ? `the docker CLI is not installed at ${DOCKER_CLI}`
    : baseImagesMissing();

const COMPOSE_FILE = `version: "2.4"
services:
  api:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo 'from the api' > /www/index.html && echo api ready && exec httpd -f -p 8080 -h /www"]
  web:
    build:
      context: ./web
      args:
        GREETING: hello
    depends_on:
      - api
`;

const WEB_DOCKERFILE = `FROM busybox
ARG GREETING
COPY fetch.sh /fetch.sh
ENV GREETING=$GREETING
CMD ["sh", "/fetch.sh"]
`;

const FETCH = `for i in $(seq 1 50); do
  if body=$(wget -qO- http://api:8080/); then
    echo "$GREETING, web got: $body"
    exec sleep 600
  fi
  sleep 0.2
done
echo "web could not reach api"
exit 1
`;

describe('docker-compose 1.29 against wharf system service', { skip, timeout: 600_000 }, () => {
  let daemon: WharfDaemon | undefined;
  let project = '';
  let dir = '';
  const compose = async (args: string[]) =>
    (
      await run(COMPOSE, ['-p', project, '-f', join(dir, 'docker-compose.yml'), ...args], {
        env: { ...daemon!.dockerEnv, COMPOSE_INTERACTIVE_NO_CLI: '1', COMPOSE_DOCKER_CLI_BUILD: '0' },
        cwd: dir,
        maxBuffer: 16 << 20,
      })
    ).stdout;
  const docker = async (args: string[]) =>
    (await run(DOCKER_CLI, args, { env: daemon!.dockerEnv, maxBuffer: 16 << 20 })).stdout;

  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
    project = `wharfc${randomInt(1_000_000).toString(36)}`;
    dir = join(daemon.dir, 'project');
    await mkdir(join(dir, 'web'), { recursive: true });
    await writeFile(join(dir, 'docker-compose.yml'), COMPOSE_FILE);
    await writeFile(join(dir, 'web', 'Dockerfile'), WEB_DOCKERFILE);
    await writeFile(join(dir, 'web', 'fetch.sh'), FETCH);
  });

  after(async () => {
    if (daemon && dir) await compose(['down', '--rmi', 'local', '-t', '1']).catch(() => {});
    await daemon?.stop();
  });

  it('brings up two services: web is built and reaches api by name on the project network', async () => {
    await compose(['up', '-d', '--build']);
    let logs = '';
    for (let i = 0; i < 100; i++) {
      logs = await compose(['logs', '--no-color', 'web']);
      if (/web got:|could not reach/.test(logs)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.match(logs, /hello, web got: from the api/);
    const apiLogs = await compose(['logs', '--no-color', 'api']);
    assert.match(apiLogs, /api ready/);
  });

  it('lists the services with ps, on the project network', async () => {
    const ps = await compose(['ps']);
    assert.match(ps, new RegExp(`^${project}_api_1 .*Up`, 'm'));
    assert.match(ps, new RegExp(`^${project}_web_1 .*Up`, 'm'));
    const services = (await compose(['ps', '--services'])).trim().split('\n').sort();
    assert.deepEqual(services, ['api', 'web']);
    const networks = await docker(['network', 'ls', '--format', '{{.Name}}']);
    assert.match(networks, new RegExp(`^${project}_default$`, 'm'));
    const image = await docker(['images', '--format', '{{.Repository}}']);
    assert.match(image, new RegExp(`^${project}_web$`, 'm'));
  });

  it('takes everything down: no container and no network of the project left', async () => {
    await compose(['down', '-t', '1']);
    assert.equal(await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]), '');
    const networks = await docker(['network', 'ls', '--format', '{{.Name}}']);
    assert.doesNotMatch(networks, new RegExp(`${project}_default`));
  });
});
