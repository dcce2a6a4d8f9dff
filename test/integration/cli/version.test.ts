// `wharf version` through the real binary: the client section, then the in-process engine's (the
// daemon's /version shape: Engine, the runtimes and conmon), with docker's --format templates.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { wharfBin } from '../../helpers/wharf.ts';

describe('wharf version', () => {
  let root: string;
  const version = async (...args: string[]) =>
    (await promisify(execFile)(wharfBin, ['--root', root, 'version', ...args])).stdout;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-version-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('prints the client, then the engine with its components, as docker version does', async () => {
    const out = await version();
    assert.match(out, /^Client:\n Version: +\d+\.\d+\.\d+\n API version: +1\.41\n/);
    assert.match(
      out,
      /\n\nServer: Wharf \d+\.\d+\.\d+\n Engine:\n {2}Version: +\S+\n {2}API version: +1\.41 \(minimum version 1\.\d+\)\n/,
    );
    assert.match(out, /\n conmon:\n {2}Version: +\S+/);
  });

  it('takes Go templates and json over {Client, Server}', async () => {
    const [client, server] = (await version('--format', '{{.Client.Version}} {{.Server.Version}}'))
      .trim()
      .split(' ');
    assert.equal(server, client);
    const json = JSON.parse(await version('--format', 'json')) as {
      Client: { ApiVersion: string };
      Server: { ApiVersion: string; Components: { Name: string }[] };
    };
    assert.equal(json.Client.ApiVersion, '1.41');
    assert.equal(json.Server.ApiVersion, '1.41');
    assert.equal(json.Server.Components[0]?.Name, 'Engine');
    // templates see Go's field names: APIVersion (JSON ApiVersion), as in docker's scripts
    assert.equal(
      await version('--format', '{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}'),
      `1.41 1.41 ${(json.Server as { MinAPIVersion?: string }).MinAPIVersion}\n`,
    );
    assert.doesNotMatch(await version('--format', '{{json .}}'), /"APIVersion"/);
    await assert.rejects(version('--format', '{{.Client'), /template parsing error/);
  });
});
