import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { wharfBin } from '../../helpers/wharf.ts';

const run = promisify(execFile);

describe('wharf info', () => {
  let root = '';
  const env = () => ({ ...process.env, WHARF_ROOT: root });
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-info-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reports the runtime the probe chose, with the reason as a warning when crun is not it', async () => {
    const { stdout } = await run(wharfBin, ['info', '--format', '{{json .}}'], { env: env() });
    const info = JSON.parse(stdout) as {
      DefaultRuntime: string;
      Runtimes: Record<string, { path: string }>;
      Warnings: string[] | null;
      DockerRootDir: string;
      Containers: number;
      Images: number;
      ClientInfo: { Version: string };
    };
    assert.ok(['crun', 'runc'].includes(info.DefaultRuntime), info.DefaultRuntime);
    assert.ok(info.Runtimes[info.DefaultRuntime], 'the default runtime is among the runtimes');
    assert.equal(info.DockerRootDir, root);
    assert.equal(info.Containers, 0);
    assert.equal(info.Images, 0);
    assert.match(info.ClientInfo.Version, /^\d+\.\d+\.\d+/);
    if (info.DefaultRuntime === 'runc' && info.Runtimes.crun) {
      assert.match(
        (info.Warnings ?? []).join('\n'),
        /crun version [\d.]+ cannot run containers on this host/,
      );
    } else {
      assert.equal(info.Warnings, null);
    }

    const text = await run(wharfBin, ['system', 'info'], { env: env() });
    assert.match(text.stdout, /^Client:\n Version: {4}\S+\n/);
    assert.match(text.stdout, new RegExp(`\\n Default Runtime: ${info.DefaultRuntime}\\n`));
    assert.match(text.stdout, new RegExp(`\\n Docker Root Dir: ${root}\\n`));
  });

  it('fails on a bad template before gathering anything', async () => {
    await assert.rejects(
      run(wharfBin, ['info', '--format', '{{.Nope'], { env: env() }),
      (error: { stderr: string }) => {
        assert.match(error.stderr, /template parsing error/);
        return true;
      },
    );
  });
});
