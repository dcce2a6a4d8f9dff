/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text holds ${VERSION} on purpose */
// `wharf dockerfile parse` through the real binary: JSON and listing output, stdin, and clean
// `Dockerfile:N: reason` failures (exit 1, no stack trace).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { wharfBin } from '../../helpers/wharf.ts';

const DOCKERFILE = [
  '# syntax=docker/dockerfile:1',
  'ARG VERSION=1.22',
  'FROM --platform=$BUILDPLATFORM golang:${VERSION} AS Build',
  'RUN --mount=type=cache,target=/root/.cache \\',
  '    go build -o /out/app ./cmd/app',
  'COPY <<EOF /etc/app.conf',
  'port=8080',
  'EOF',
  'FROM alpine',
  'COPY --from=build /out/app /usr/bin/app',
  'CMD ["/usr/bin/app", "--serve"]',
  '',
].join('\n');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe('wharf dockerfile parse', () => {
  let dir = '';
  const wharf = (args: string[], input?: string): Run => {
    const result = spawnSync(wharfBin, args, { cwd: dir, input, encoding: 'utf8', timeout: 30_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-dockerfile-parse-'));
    writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints stages and instructions as JSON, reading ./Dockerfile by default', () => {
    const run = wharf(['dockerfile', 'parse', '--format', 'json']);
    assert.equal(run.status, 0, run.stderr);
    const parsed = JSON.parse(run.stdout);
    assert.equal(parsed.file, 'Dockerfile');
    assert.deepEqual(parsed.directives, [{ name: 'syntax', value: 'docker/dockerfile:1', line: 1 }]);
    assert.deepEqual(
      parsed.global.map((node: { instruction: string }) => node.instruction),
      ['ARG'],
    );
    assert.equal(parsed.stages.length, 2);
    const [build, final] = parsed.stages;
    assert.equal(build.name, 'build');
    assert.equal(build.base, 'golang:${VERSION}');
    assert.equal(build.platform, '$BUILDPLATFORM');
    assert.deepEqual(build.lines, { start: 3, end: 8 });
    const run4 = build.instructions[1];
    assert.deepEqual(run4.flags, ['--mount=type=cache,target=/root/.cache']);
    assert.deepEqual(run4.args, ['go build -o /out/app ./cmd/app']);
    assert.deepEqual(run4.lines, { start: 4, end: 5 });
    assert.deepEqual(build.instructions[2].heredocs, [
      { name: 'EOF', expand: true, chomp: false, content: 'port=8080\n' },
    ]);
    const cmd = final.instructions[2];
    assert.deepEqual([cmd.instruction, cmd.form, cmd.args], ['CMD', 'exec', ['/usr/bin/app', '--serve']]);
  });

  it('prints a readable listing, and reads standard input with -f -', () => {
    const run = wharf(['dockerfile', 'parse', '-f', '-'], DOCKERFILE);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Dockerfile: 2 stages, 7 instructions\n/);
    assert.match(
      run.stdout,
      /stage 0 "build" from golang:\$\{VERSION\} \(platform \$BUILDPLATFORM\), lines 3-8:/,
    );
    assert.match(
      run.stdout,
      / {2}4-5 {2}RUN --mount=type=cache,target=\/root\/.cache "go build -o \/out\/app .\/cmd\/app"\n/,
    );
    assert.match(run.stdout, /heredoc <<EOF: 1 line, expanded/);
    assert.match(run.stdout, / 11 {2}CMD \["\/usr\/bin\/app", "--serve"\]\n/);
  });

  it('fails with Dockerfile:N: reason and exit 1 on a malformed Dockerfile, without a stack trace', () => {
    const cases: Array<[string, RegExp]> = [
      [
        'FROM alpine\nRUN true\n\nFORM scratch\n',
        /^bad\.Dockerfile:4: unknown instruction: FORM \(did you mean FROM\?\)\n$/,
      ],
      ['FROM alpine\nRUN <<EOF\necho hi\n', /^bad\.Dockerfile:2: unterminated heredoc/],
      ['# only a comment\n', /^bad\.Dockerfile: file with no instructions/],
      [
        'FROM alpine\nCMD ["echo", 1]\n',
        /^bad\.Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only/,
      ],
    ];
    for (const [source, expected] of cases) {
      writeFileSync(join(dir, 'bad.Dockerfile'), source);
      const run = wharf(['dockerfile', 'parse', '-f', 'bad.Dockerfile']);
      assert.equal(run.status, 1, source);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, expected);
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    }
  });

  it('says so when the Dockerfile does not exist', () => {
    const run = wharf(['dockerfile', 'parse', '-f', 'missing/Dockerfile']);
    assert.equal(run.status, 1);
    assert.equal(run.stderr, 'Error: Cannot read Dockerfile: no such file: missing/Dockerfile\n');
  });

  it('rejects an unknown output format', () => {
    const run = wharf(['dockerfile', 'parse', '--format', 'yaml']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^Error: Cannot format the output: unknown format "yaml" \(use json\)\n$/);
  });
});
