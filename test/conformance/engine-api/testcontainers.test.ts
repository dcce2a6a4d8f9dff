/**
 * testcontainers-node against `wharf system service` (DOCKER_HOST at its socket; Ryuk disabled,
 * its image comes from Docker Hub): a GenericContainer from a local image (busybox running
 * httpd) is started, waited for by a log line and by its exposed port, reached on the mapped
 * host port, and stopped. testcontainers reads DOCKER_HOST once per process, which is this
 * file's own (node --test runs each file in a process of its own).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { DOCKER_CLI, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const skip = !existsSync(DOCKER_CLI)
  ? `the docker CLI is not installed at ${DOCKER_CLI}`
  : baseImagesMissing();

describe('testcontainers-node against wharf system service', { skip, timeout: 300_000 }, () => {
  let daemon: WharfDaemon | undefined;

  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
    process.env.DOCKER_HOST = `unix://${daemon.socket}`;
    process.env.DOCKER_CONFIG = daemon.dockerEnv.DOCKER_CONFIG;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  });

  after(async () => {
    await daemon?.stop();
  });

  it('starts a GenericContainer from a local image, waits for a log line and its port, talks to it', async () => {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('busybox:latest')
      .withCommand([
        'sh',
        '-c',
        'mkdir -p /www && echo "hello from wharf" > /www/index.html && echo "httpd starting" && exec httpd -f -v -p 8080 -h /www',
      ])
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forAll([Wait.forLogMessage('httpd starting'), Wait.forListeningPorts()]))
      .withStartupTimeout(60_000)
      .start();
    try {
      const port = container.getMappedPort(8080);
      assert.ok(port > 0 && port < 65536, `mapped port ${port}`);
      const host = container.getHost() === 'localhost' ? '127.0.0.1' : container.getHost();
      const response = await fetch(`http://${host}:${port}/`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'hello from wharf\n');
      const exec = await container.exec(['cat', '/www/index.html']);
      assert.equal(exec.exitCode, 0);
      assert.equal(exec.output, 'hello from wharf\n');
      const logs = await container.logs();
      let text = '';
      for await (const chunk of logs) {
        text += chunk.toString();
        if (text.includes('httpd starting')) break;
      }
      logs.destroy();
      assert.match(text, /httpd starting/);
    } finally {
      await container.stop({ timeout: 2_000 });
    }
  });
});
