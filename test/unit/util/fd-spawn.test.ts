// spawnWithFds (src/util/fd-spawn.ts), which starts `wharf exec`'s runtime without
// node:child_process: real processes, their exit codes, signals, environment and descriptors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnWithFds } from '../../../src/util/fd-spawn.ts';

const INHERIT = ['inherit', 'inherit', 'inherit'] as const;

describe('spawnWithFds', () => {
  it("reports the program's exit code", async () => {
    const started = spawnWithFds('/bin/sh', ['-c', 'exit 3'], { stdio: ['ignore', 'ignore', 'ignore'] });
    assert.ok(started.pid > 0);
    assert.deepEqual(await started.exit, { code: 3, signal: null });
  });

  it('reports the signal that ended it', async () => {
    const started = spawnWithFds('/bin/sh', ['-c', 'kill -TERM $$'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    assert.deepEqual(await started.exit, { code: null, signal: 'SIGTERM' });
  });

  it('rejects as child_process does when the program cannot start', async () => {
    const started = spawnWithFds('/nonexistent/program', [], { stdio: INHERIT });
    await assert.rejects(started.exit, { code: 'ENOENT', message: 'spawn /nonexistent/program ENOENT' });
  });

  it("shares this process's descriptors, gives /dev/null for 'ignore', and passes the environment", () => {
    // a child node runs spawnWithFds, so the grandchild's output lands in what this test captures
    const module = fileURLToPath(new URL('../../../src/util/fd-spawn.ts', import.meta.url));
    const script = `
      import { spawnWithFds } from ${JSON.stringify(module)};
      const started = spawnWithFds('/bin/sh', ['-c', 'cat; echo "out $GREETING"; echo err >&2'], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { GREETING: 'hello', PATH: process.env.PATH },
      });
      const { code } = await started.exit;
      process.exitCode = code;`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      input: 'stdin must not reach the program',
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    assert.equal(out, 'out hello\n');
  });
});
