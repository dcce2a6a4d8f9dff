// A daemon address (-H, WHARF_HOST) for a command the CLI runs in-process is refused rather than
// ignored (src/cli/context.ts refuseDaemonHost): acting on the local store instead of the named
// daemon would touch the wrong containers.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODULE_LOADERS } from '../../../src/cli/command-table.ts';
import { refuseDaemonHost } from '../../../src/cli/context.ts';
import { runCli } from '../../../src/cli/run-cli.ts';
import { FailedPreconditionError } from '../../../src/errors/index.ts';

describe('refuseDaemonHost', () => {
  it('lets commands run without a daemon address, or with an empty WHARF_HOST', () => {
    refuseDaemonHost(undefined, undefined, ['ps']);
    refuseDaemonHost(undefined, '', ['rm']);
  });

  it('refuses -H and WHARF_HOST for in-process commands, naming the docker CLI way', () => {
    for (const [flag, env] of [
      ['unix:///run/wharf.sock', undefined],
      [undefined, 'tcp://prod:2375'],
    ] as const) {
      assert.throws(
        () => refuseDaemonHost(flag, env, ['container', 'rm']),
        (error: unknown) =>
          error instanceof FailedPreconditionError &&
          error.message.includes(`DOCKER_HOST=${flag ?? env} docker container rm`),
      );
    }
  });

  it('lets version and system service run (the service listens where its own -H says)', () => {
    refuseDaemonHost('unix:///x', undefined, ['version']);
    refuseDaemonHost(undefined, 'unix:///x', ['system', 'service']);
  });

  it('is checked before any verb runs, with exit code 1', async () => {
    // a root the refused command must never create
    const root = join(tmpdir(), `wharf-daemon-host-${process.pid}`);
    const written: string[] = [];
    const saved = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const code = await runCli(['--root', root, '-H', 'unix:///x', 'ps', '-a'], MODULE_LOADERS);
      assert.equal(code, 1);
    } finally {
      process.stderr.write = saved;
      assert.equal(existsSync(root), false, 'ps never ran');
      rmSync(root, { recursive: true, force: true });
    }
    assert.match(written.join(''), /Cannot run "wharf ps" against the daemon at unix:\/\/\/x/);
  });
});
