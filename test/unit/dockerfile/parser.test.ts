import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dumpDockerfile } from '../../../src/dockerfile/dump.ts';
import { DockerfileError } from '../../../src/dockerfile/errors.ts';
import { goQuote } from '../../../src/dockerfile/parser/go-quote.ts';
import { parseWords } from '../../../src/dockerfile/parser/parse-words.ts';
import { parseDockerfile } from '../../../src/dockerfile/parser.ts';
import { validateKnownInstructions } from '../../../src/dockerfile/validate-known-instructions.ts';

const dump = (source: string): string => dumpDockerfile(parseDockerfile(source));

/** The message of the DockerfileError `run` throws. */
function errorOf(run: () => unknown): DockerfileError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof DockerfileError, `expected a DockerfileError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a DockerfileError, got none');
}

describe('parser: errors name the file, the line and the fix', () => {
  it('keeps unknown words, and validateKnownInstructions rejects them with a suggestion', () => {
    const source = 'FROM alpine\n\n# build\nRUN make\n\nCOPY . /src\nFORM scratch\n';
    const ast = parseDockerfile(source);
    assert.equal(dumpDockerfile(ast).split('\n')[3], '(form "")');
    const error = errorOf(() => validateKnownInstructions(ast));
    assert.equal(error.message, 'Dockerfile:7: unknown instruction: FORM (did you mean FROM?)');
    assert.equal(error.file, 'Dockerfile');
    assert.equal(error.line, 7);
  });

  it('suggests in the case the word was written in, and only when close', () => {
    const message = (source: string): string =>
      errorOf(() => validateKnownInstructions(parseDockerfile(source))).message;
    assert.equal(message('from a\nrnu x\n'), 'Dockerfile:2: unknown instruction: rnu (did you mean run?)');
    assert.equal(
      message('FROM a\nWorkDri /x\n'),
      'Dockerfile:2: unknown instruction: WorkDri (did you mean workdir?)',
    );
    assert.equal(
      message('FROM a\nCOPPY a b\n'),
      'Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)',
    );
    assert.equal(message('FROM a\nFROBNICATE x\n'), 'Dockerfile:2: unknown instruction: FROBNICATE');
    assert.doesNotThrow(() =>
      validateKnownInstructions(parseDockerfile('from a\nOnBuild run x\nhealthcheck NONE\n')),
    );
  });

  it('keeps a lone escape line as an empty instruction, as BuildKit, and rejects it in validation', () => {
    const ast = parseDockerfile('FROM a\n\\\n');
    assert.equal(dumpDockerfile(ast), '(from "a")\n("")');
    assert.match(
      errorOf(() => validateKnownInstructions(ast)).message,
      /^Dockerfile:2: unknown instruction: ""/,
    );
  });

  it('reports an unterminated heredoc at the instruction that opens it', () => {
    const error = errorOf(() =>
      parseDockerfile('FROM alpine\nRUN <<EOF\necho hi\n', { file: 'app/Dockerfile' }),
    );
    assert.equal(error.line, 2);
    assert.match(error.message, /^app\/Dockerfile:2: unterminated heredoc: no line holding only "EOF" ends/);
  });

  it('reports a file with no instructions as a whole-file error', () => {
    for (const source of ['', '\n\n', '# just a comment\n#\n', '# escape=`\n', '   \t\n']) {
      const error = errorOf(() => parseDockerfile(source));
      assert.equal(error.line, 0);
      assert.match(error.message, /^Dockerfile: file with no instructions/);
    }
  });

  it('rejects a JSON array holding non-strings at its first line, and falls back on bad JSON', () => {
    const error = errorOf(() => parseDockerfile('FROM a\nCMD [ "echo", \\\n  1 ]\n'));
    assert.equal(error.line, 2);
    assert.match(error.message, /arrays must be comprised of strings only/);
    assert.throws(() => parseDockerfile('FROM a\nHEALTHCHECK CMD ["a", null]\n'), DockerfileError);
    assert.throws(() => parseDockerfile('FROM a\nCOPY ["a", {"b": 1}]\n'), DockerfileError);
    // What Go's encoding/json cannot decode is no JSON at all: the shell form, as in BuildKit.
    assert.equal(dump('FROM a\nCMD ["a", 1e999]\n'), '(from "a")\n(cmd "[\\"a\\", 1e999]")');
    assert.equal(dump("FROM a\nCMD ['a']\n"), '(from "a")\n(cmd "[\'a\']")');
  });

  it('rejects ENV and LABEL without a value, and words without =', () => {
    assert.match(
      errorOf(() => parseDockerfile('FROM a\nENV PATH\n')).message,
      /^Dockerfile:2: ENV must have two arguments/,
    );
    assert.match(
      errorOf(() => parseDockerfile('FROM a\nLABEL x\n')).message,
      /^Dockerfile:2: LABEL must have two arguments/,
    );
    assert.equal(
      errorOf(() => parseDockerfile('FROM a\nENV a=1 b\n')).message,
      `Dockerfile:2: Syntax error - can't find = in "b". Must be of the form: name=value`,
    );
  });

  it('rejects lines over 64 KiB (in UTF-8 bytes) at their line', () => {
    const error = errorOf(() => parseDockerfile(`\n\t\tFROM image\n\t\tLABEL test=${'a'.repeat(65536)}\n`));
    assert.equal(error.line, 3);
    assert.match(error.reason, /^dockerfile line greater than max allowed size of 65535/);
    assert.doesNotThrow(() => parseDockerfile(`FROM a\nRUN ${'a'.repeat(65535 - 4)}\n`));
    assert.throws(() => parseDockerfile(`FROM a\nRUN ${'é'.repeat(32766)}\n`), DockerfileError);
  });

  it('rejects a repeated directive and an escape that is not \\ or `', () => {
    const repeated = errorOf(() => parseDockerfile('# syntax=a\n# syntax=b\nFROM x\n'));
    assert.equal(repeated.line, 2);
    assert.match(repeated.reason, /^only one syntax parser directive can be used/);
    const bad = errorOf(() => parseDockerfile('# escape=x\nFROM x\n'));
    assert.equal(bad.line, 1);
    assert.match(bad.reason, /^invalid escape token 'x' does not match ` or \\/);
  });
});

describe('parser: BuildKit semantics', () => {
  it('reads directives only in the leading block, and switches the escape character', () => {
    const ast = parseDockerfile(
      '# syntax=docker/dockerfile:1\n# ESCAPE = ` \n# check=skip=all\nFROM x\nRUN a `\n  b\n',
    );
    assert.deepEqual(ast.directives, [
      { name: 'syntax', value: 'docker/dockerfile:1', line: 1 },
      { name: 'escape', value: '`', line: 2 },
      { name: 'check', value: 'skip=all', line: 3 },
    ]);
    assert.equal(ast.escapeChar, '`');
    assert.equal(dumpDockerfile(ast), '(from "x")\n(run "a   b")');
    // After a blank line or another comment, `# escape=` is just a comment.
    assert.equal(parseDockerfile('\n# escape=`\nFROM x\n').escapeChar, '\\');
    assert.equal(parseDockerfile('# hello\n# escape=`\nFROM x\n').escapeChar, '\\');
  });

  it('keeps comments above an instruction, but not directives, and resets on an empty comment', () => {
    const ast = parseDockerfile('# escape=\\\n# one\n\n# two\nFROM x\n#\n# three\nRUN y\nRUN z\n');
    assert.deepEqual(
      ast.instructions.map((node) => node.comments),
      [['one', 'two'], ['three'], []],
    );
  });

  it('joins continuation lines, skipping comments and warning on blank ones', () => {
    const ast = parseDockerfile(
      '\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n    following \\\n\n    more\n\nRUN another \\\n\n    thing\n\nRUN non-indented \\\n# this is a comment\n   after-comment\n\nRUN indented \\\n    # this is an indented comment\n    comment\n\t',
    );
    assert.deepEqual(
      ast.warnings.map((warning) => warning.message),
      [
        'Empty continuation line found in: RUN something     following     more',
        'Empty continuation line found in: RUN another     thing',
      ],
    );
    assert.deepEqual(
      ast.warnings.map((warning) => warning.line),
      [11, 15],
    );
    assert.deepEqual(ast.instructions[5]!.range, { startLine: 21, endLine: 23 });
    assert.equal(ast.instructions[4]!.original, 'RUN non-indented    after-comment');
  });

  it('keeps heredoc bodies byte for byte (CRLF included), as BuildKit', () => {
    const ast = parseDockerfile('FROM x\r\nRUN <<EOF\r\nhi\r\nEOF\r\n');
    assert.deepEqual(ast.instructions[1]!.heredocs, [
      { name: 'EOF', content: 'hi\r\n', expand: true, chomp: false },
    ]);
  });

  it('handles CRLF, a BOM, an escaped escape at the end and a continuation at the end of the file', () => {
    assert.equal(dump('\ufeffFROM x\r\nRUN a \\\r\n  b\r\n'), '(from "x")\n(run "a   b")');
    assert.equal(dump('FROM x\nRUN a\\\\\nRUN b'), '(from "x")\n(run "a\\\\\\\\")\n(run "b")');
    assert.equal(dump('FROM x\nRUN a \\'), '(from "x")\n(run "a")');
  });

  it('extracts flags on any instruction, removing quotes and applying escapes', () => {
    const ast = parseDockerfile(
      'FROM x\nCOPY --chown="me:me" --from=b\\ c -- --not-a-flag /d\nCMD --doit [ "a", "b" ]\n',
    );
    assert.deepEqual(ast.instructions[1]!.flags, ['--chown=me:me', '--from=b c']);
    assert.deepEqual(ast.instructions[1]!.args, ['--not-a-flag', '/d']);
    assert.deepEqual(ast.instructions[2]!.flags, ['--doit']);
    assert.deepEqual(ast.instructions[2]!.args, ['a', 'b']);
    assert.equal(ast.instructions[2]!.json, true);
  });

  it('gives each instruction its argument shape', () => {
    assert.equal(
      dump(
        'FROM a AS b\nARG x="1 2" y\nENV k=v "q=r s"\nENV old form value\nLABEL a=b\nUSER  me  you \nEXPOSE 80 443\nVOLUME ["/a", "/b"]\nFOO bar\n',
      ),
      [
        '(from "a" "AS" "b")',
        '(arg "x=\\"1 2\\"" "y")',
        '(env "k" "v" "=" "\\"q" "r s\\"" "=")',
        '(env "old" "form value" "")',
        '(label "a" "b" "=")',
        '(user "me  you")',
        '(expose "80" "443")',
        '(volume "/a" "/b")',
        '(foo "")',
      ].join('\n'),
    );
    assert.equal(
      dump('FROM a\nHEALTHCHECK CMD\nHEALTHCHECK\nHEALTHCHECK CMD ["a"]\n'),
      '(from "a")\n(healthcheck "CMD")\n(healthcheck)\n(healthcheck "CMD" "a")',
    );
  });

  it('nests ONBUILD triggers, with heredocs read for a RUN, COPY or ADD trigger', () => {
    const ast = parseDockerfile('FROM a\nONBUILD RUN <<EOF\nhi\nEOF\nONBUILD ONBUILD COPY . /\n');
    assert.equal(
      dumpDockerfile(ast),
      '(from "a")\n(onbuild (run "<<EOF"))\n(onbuild (onbuild (copy "." "/")))',
    );
    const onbuild = ast.instructions[1]!;
    assert.equal(onbuild.trigger?.keyword, 'run');
    assert.deepEqual(onbuild.trigger?.range, { startLine: 2, endLine: 4 });
    assert.deepEqual(
      onbuild.heredocs.map((doc) => doc.content),
      ['hi\n'],
    );
  });

  it('reads heredocs: several per line, fds, quoted and chomped delimiters; only for RUN, COPY, ADD', () => {
    const ast = parseDockerfile(
      'FROM a\nCOPY <<A 3<<"B" /d\na $X\nA\nb\nB\nRUN <<-EOT\n\t\tx\n\tEOT\nRUN ["a", "<<EOF"]\nUSER <<EOF\nENV a=<<EOF\n',
    );
    const [, copy, run, json, user, env] = ast.instructions;
    assert.deepEqual(copy!.heredocs, [
      { name: 'A', content: 'a $X\n', expand: true, chomp: false },
      { name: 'B', content: 'b\n', expand: false, chomp: false, fileDescriptor: 3 },
    ]);
    assert.deepEqual(copy!.range, { startLine: 2, endLine: 6 });
    assert.deepEqual(run!.heredocs, [{ name: 'EOT', content: 'x\n', expand: true, chomp: true }]);
    assert.deepEqual([json!.heredocs, user!.heredocs, env!.heredocs], [[], [], []]);
  });

  it('splits words as BuildKit`s parseWords (quotes and escapes kept, Unicode blanks split)', () => {
    const cases: Array<[string, string[]]> = [
      ['foo', ['foo']],
      ['foo bar', ['foo', 'bar']],
      ['foo\\ bar', ['foo\\ bar']],
      ['foo=bar', ['foo=bar']],
      ["foo bar 'abc xyz'", ['foo', 'bar', "'abc xyz'"]],
      ['foo bar "abc xyz"', ['foo', 'bar', '"abc xyz"']],
      ['àöû', ['àöû']],
      ['föo bàr "âbc xÿz"', ['föo', 'bàr', '"âbc xÿz"']],
      ['a\u00a0b\u2003c', ['a', 'b', 'c']],
    ];
    for (const [input, expected] of cases) assert.deepEqual(parseWords(input, '\\'), expected, input);
  });

  it('quotes as Go strconv.Quote', () => {
    assert.equal(goQuote('plain'), '"plain"');
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('\x00\x07\b\f\n\r\t\v\x1b\x7f'), '"\\x00\\a\\b\\f\\n\\r\\t\\v\\x1b\\x7f"');
    assert.equal(goQuote('♥ 한국어 😀'), '"♥ 한국어 😀"');
    assert.equal(goQuote('\u00a0\u0085\u200b\ufeff'), '"\\u00a0\\u0085\\u200b\\ufeff"');
    assert.equal(goQuote('\u{e0001}'), '"\\U000e0001"');
  });
});
