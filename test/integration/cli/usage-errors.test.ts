// Command-line mistakes through the built binary (src/cli/usage-error.ts): the docker CLI 28's
// words and exit codes (125 for a flag, 1 for arguments and unknown commands), the usage line,
// and no trace of commander's own `error: unknown option` text. Each expected text is what
// docker 28 printed for the same line, with `docker` replaced by `wharf`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { wharfBin } from '../../helpers/wharf.ts';

describe('usage errors', () => {
  const root = mkdtempSync(join(tmpdir(), 'wharf-usage-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const wharf = (...args: string[]) => {
    const result = spawnSync(wharfBin, args, { encoding: 'utf8', env: { ...process.env, WHARF_ROOT: root } });
    return { status: result.status, stderr: result.stderr, stdout: result.stdout };
  };

  it('an unknown flag exits 125 with the usage line', () => {
    assert.deepEqual(wharf('ps', '--forc'), {
      status: 125,
      stdout: '',
      stderr:
        "unknown flag: --forc\n\nUsage:  wharf ps [OPTIONS]\n\nRun 'wharf ps --help' for more information\n",
    });
    const short = wharf('ps', '-z');
    assert.equal(short.status, 125);
    assert.match(short.stderr, /^unknown shorthand flag: 'z' in -z\n/);
    const flagValue = wharf('run', '--name');
    assert.equal(flagValue.status, 125);
    assert.equal(
      flagValue.stderr,
      "flag needs an argument: --name\n\nUsage:  wharf run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'wharf run --help' for more information\n",
    );
    const grouped = wharf('container', 'ls', '--bad');
    assert.equal(grouped.status, 125);
    assert.match(grouped.stderr, /\n\nUsage: {2}wharf container ls \[OPTIONS\]\n/);
  });

  it('missing or extra arguments exit 1 and say what the verb takes', () => {
    assert.deepEqual(wharf('rm'), {
      status: 1,
      stdout: '',
      stderr:
        "wharf: 'wharf rm' requires at least 1 argument\n\nUsage:  wharf rm [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'wharf rm --help' for more information\n",
    });
    for (const line of [
      ['rename', 'a'],
      ['rename', 'a', 'b', 'c'],
    ]) {
      const result = wharf(...line);
      assert.equal(result.status, 1, line.join(' '));
      assert.equal(
        result.stderr,
        "wharf: 'wharf rename' requires 2 arguments\n\nUsage:  wharf rename CONTAINER NEW_NAME\n\nRun 'wharf rename --help' for more information\n",
      );
    }
    const extra = wharf('ps', 'extra');
    assert.equal(extra.status, 1);
    assert.match(extra.stderr, /^wharf: 'wharf ps' accepts no arguments\n/);
    const run = wharf('run');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^wharf: 'wharf run' requires at least 1 argument\n/);
  });

  it('an unknown command exits 1', () => {
    assert.deepEqual(wharf('no-such-verb'), {
      status: 1,
      stdout: '',
      stderr: "wharf: unknown command: wharf no-such-verb\n\nRun 'wharf --help' for more information\n",
    });
    const inGroup = wharf('container', 'foo');
    assert.equal(inGroup.status, 1);
    assert.equal(
      inGroup.stderr,
      "wharf: unknown command: wharf container foo\n\nUsage:  wharf container COMMAND\n\nRun 'wharf container --help' for more information\n",
    );
  });
});
