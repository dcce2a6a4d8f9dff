// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile words, where ${...} is shell syntax
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  envFromList,
  processWord,
  processWords,
  ShellLexer,
  ShellWordError,
} from '../../../src/dockerfile/shell-lexer.ts';
import { sharedTestdata } from '../../helpers/wharf.ts';

const shellData = join(sharedTestdata, 'buildkit-dockerfile', 'shell');
const missing = existsSync(join(shellData, 'envVarTest'))
  ? false
  : `BuildKit test data absent at ${shellData}`;

describe('shell lexer: BuildKit tables', () => {
  it('passes every A and U row of envVarTest (ProcessWord)', { skip: missing }, () => {
    const lexer = new ShellLexer();
    const env = envFromList(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL=']);
    const counts = { A: 0, U: 0, W: 0, errors: 0 };
    const lines = readFileSync(join(shellData, 'envVarTest'), 'utf8').split('\n');
    lines.forEach((raw, index) => {
      if (raw.startsWith('#')) return;
      const line = raw.trim();
      if (line === '') return;
      const fields = line.split('|');
      assert.equal(fields.length, 3, `line ${index + 1} has 3 fields`);
      const [platform, source, expected] = fields.map((f) => f.trim()) as [string, string, string];
      assert.ok(platform === 'A' || platform === 'U' || platform === 'W', `line ${index + 1}: platform`);
      counts[platform]++;
      if (platform === 'W') return; // Windows-only rows: case-insensitive names
      const where = `envVarTest line ${index + 1}: ${JSON.stringify(source)}`;
      if (expected === 'error') {
        counts.errors++;
        assert.throws(() => lexer.processWord(source, env), ShellWordError, where);
      } else {
        assert.equal(lexer.processWord(source, env), expected, where);
      }
    });
    console.log(
      `envVarTest: ${counts.A + counts.U} rows checked (${counts.A} A, ${counts.U} U, ${counts.errors} errors), ${counts.W} W rows not run`,
    );
    assert.equal(counts.A + counts.U + counts.W, 230);
    assert.equal(counts.A + counts.U, 228);
  });

  it('passes every row of wordsTest (ProcessWords, normal mode)', { skip: missing }, () => {
    const lexer = new ShellLexer();
    const envs: string[] = [];
    let checked = 0;
    const text = readFileSync(join(shellData, 'wordsTest'), 'utf8');
    const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    lines.forEach((line, index) => {
      if (line.startsWith('#')) return;
      if (line.startsWith('ENV ')) {
        envs.push(line.slice(3).replace(/^ +/, ''));
        return;
      }
      const fields = line.split('|');
      assert.equal(fields.length, 2, `wordsTest line ${index + 1} has one |`);
      const input = fields[0]!.trim();
      const expected = fields[1]!.replace(/^ +/, '').split(',');
      let result: string[];
      try {
        result = lexer.processWords(input, envFromList(envs));
      } catch (error) {
        assert.ok(error instanceof ShellWordError);
        result = ['error'];
      }
      assert.deepEqual(result, expected, `wordsTest line ${index + 1}: ${JSON.stringify(input)}`);
      checked++;
    });
    console.log(`wordsTest: ${checked} rows checked`);
    assert.equal(checked, 24);
  });
});

/** Expands with a Map built from a record. */
const expand = (word: string, env: Record<string, string> = {}) =>
  processWord(word, new Map(Object.entries(env)));

describe('shell lexer: pattern forms', () => {
  it('removes the shortest and longest prefix with # and ##', () => {
    assert.equal(expand('${F#*x*y}', { F: 'xxyy' }), 'y');
    assert.equal(expand('${F#*}', { F: 'xxyy' }), 'xxyy');
    assert.equal(expand('${F##*x}', { F: 'xxyy' }), 'yy');
    assert.equal(expand('${F##}', { F: 'xxyy' }), 'xxyy');
    assert.equal(expand('${F#?\\?}', { F: '???y' }), '?y');
    assert.equal(expand('${F#$B}', { F: 'xxyy', B: 'x' }), 'xyy');
    assert.equal(expand('${P##*/}', { P: '/srv/app/data.tar.gz' }), 'data.tar.gz');
    assert.equal(expand('${P#*/}', { P: '/srv/app/data.tar.gz' }), 'srv/app/data.tar.gz');
  });

  it('removes the shortest and longest suffix with % and %%', () => {
    assert.equal(expand('${P%.*}', { P: 'data.tar.gz' }), 'data.tar');
    assert.equal(expand('${P%%.*}', { P: 'data.tar.gz' }), 'data');
    assert.equal(expand('${F%%\\**}', { F: 'xx**' }), 'xx');
    assert.equal(expand('${F%%\\**\\*}', { F: 'a***yy*' }), 'a');
    assert.equal(expand('${F%}', { F: 'xxyy' }), 'xxyy');
    assert.equal(expand('${A:-.}${F%x}${A:-.}', { F: 'xxyy' }), '.xxyy.');
    assert.equal(expand('${U%x}'), '');
  });

  it('treats regexp characters as literals and \\} as }', () => {
    assert.equal(expand('${F#()[]{\\}^$.\\*\\?|\\\\}', { F: '()[]{}^$.*?|\\x' }), 'x');
    assert.equal(expand('${F#a.c}', { F: 'abcd' }), 'abcd');
  });

  it('never lets ? or * match a newline, as Go regexp', () => {
    assert.equal(expand('${F#a?}', { F: 'a\nb' }), 'a\nb');
    assert.equal(expand('${F##*}', { F: 'ab\ncd' }), '\ncd');
  });

  it('replaces the first match with / and every match with //', () => {
    assert.equal(
      expand('${F/$N/.} - ${F//$N/.}', { F: '/foo*/*/*.txt', N: '\\*/' }),
      '/foo.*/*.txt - /foo..*.txt',
    );
    assert.equal(
      expand('${F/$N/} - ${F//$N/}', { F: '/tmp/tmp/bar.txt', N: '/tmp' }),
      '/tmp/bar.txt - /bar.txt',
    );
    assert.equal(
      expand('${F/$N/$R} - ${F//$N/$R}', { F: '/a/foo/b/c.txt', N: '/?/', R: '/' }),
      '/foo/b/c.txt - /foo/c.txt',
    );
    assert.equal(expand('${F//\\//\\/}', { F: '/tmp/foo.txt' }), '\\/tmp\\/foo.txt');
    assert.equal(expand('${F/$B/ww}', { F: 'xxyy', B: '' }), 'wwxxyy');
    assert.equal(expand('${F///}', { F: 'xxyy' }), 'xxyy');
    assert.equal(expand('${F///}'), '');
  });

  it('skips empty matches that follow a match in //, as Go ReplaceAllString', () => {
    assert.equal(expand('${F//*/x}', { F: 'abc' }), 'x');
    assert.equal(expand('${F//$E/-}', { F: 'ab', E: '' }), '-a-b-');
  });

  it('expands Go templates in // replacements only', () => {
    assert.equal(expand("${F//b/'<$0>'}", { F: 'abc' }), 'a<b>c');
    assert.equal(expand("${F//b/'$$'}", { F: 'abc' }), 'a$c');
    assert.equal(expand("${F//b/'$1'}", { F: 'abc' }), 'ac');
    assert.equal(expand("${F/b/'<$0>'}", { F: 'abc' }), 'a<$0>c');
  });

  it('rejects bad patterns and modifiers with BuildKit messages', () => {
    assert.throws(
      () => expand('${F:#x}'),
      /failed to process "\$\{F:#x\}": unsupported modifier \(:#\) in substitution/,
    );
    assert.throws(() => expand('${F:%%x}'), /unsupported modifier \(:%\) in substitution/);
    assert.throws(() => expand('${F//ww}', { F: 'x' }), /syntax error: missing '\/' in \$\{\}/);
    assert.throws(() => expand('${F//}', { F: 'x' }), /syntax error: missing '\/' in \$\{\}/);
    assert.throws(
      () => expand('${F#\\x}', { F: 'x' }),
      /invalid pattern \(\\x\) in substitution: invalid escape '\\x'/,
    );
    assert.throws(() => expand('${F=x}', { F: 'x' }), /unsupported modifier \(=\) in substitution/);
    assert.throws(() => expand('${F:=x}'), /unsupported modifier \(:=\) in substitution/);
    assert.throws(() => expand('${F'), /unsupported modifier \(\uFFFD\) in substitution/);
    assert.throws(() => expand('${'), /syntax error: missing '\}'/);
    assert.throws(() => expand('${}'), /syntax error: bad substitution/);
  });

  it('reports ? errors with the message or the default text', () => {
    assert.equal(expand('${V:?message here$A}', { V: 'plain', A: 'x' }), 'plain');
    assert.throws(() => expand('${V:?message here$A}', { V: '', A: 'x' }), /V: message herex/);
    assert.throws(() => expand('${V:?message here$A}', { A: 'x' }), /V: message herex/);
    assert.equal(expand('${V?m}', { V: '' }), '');
    assert.throws(() => expand('${V?}'), /V: is not allowed to be unset/);
    assert.throws(() => expand('${V:?}', { V: '' }), /V: is not allowed to be empty/);
  });
});

describe('shell lexer: behaviour', () => {
  it('reports matched and unmatched variables (ProcessWordWithMatches)', () => {
    const lexer = new ShellLexer();
    const env = new Map([
      ['FOO', 'xxx'],
      ['BAR', ''],
    ]);
    const r = lexer.processWordWithMatches('${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', env);
    assert.equal(r.result, 'xxx  ccc');
    assert.deepEqual([...r.matched], ['FOO', 'BAR']);
    assert.deepEqual([...r.unmatched], ['BAZ']);
    const plat = lexer.processWordWithMatches(
      'x-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tgz',
      new Map([
        ['VERSION', 'v1'],
        ['TARGETOS', 'linux'],
        ['TARGETARCH', 'arm64'],
      ]),
    );
    assert.equal(plat.result, 'x-v1.linux-arm64.tgz');
    assert.deepEqual([...plat.unmatched], ['TARGETVARIANT']);
  });

  it('uses the backtick as escape character when told', () => {
    const lexer = new ShellLexer({ escapeToken: '`' });
    const env = new Map([['A', 'a']]);
    assert.equal(lexer.processWord('`$A \\$A', env), '$A \\a');
    assert.equal(lexer.processWord('"`"x"', env), '"x');
    assert.throws(() => new ShellLexer({ escapeToken: '/' }), /invalid escape token/);
  });

  it('leaves unset references in place with skipUnsetEnv, and keeps quotes with rawQuotes', () => {
    const lexer = new ShellLexer({ skipUnsetEnv: true, rawQuotes: true });
    assert.deepEqual(lexer.processWords('a$X "b c" ${Y:-d}', new Map()), ['a$X', '"b c"', '${Y:-d}']);
  });

  it('keeps << and the blanks after it in one field (heredoc detection)', () => {
    assert.deepEqual(processWords('cat << EOF > f', new Map()), ['cat', '<< EOF', '>', 'f']);
    assert.deepEqual(processWords('cat <<  "EOF"', new Map()), ['cat', '<<  EOF']);
  });

  it('drops text before a nested modifier word from fields, as BuildKit does', () => {
    const env = new Map<string, string>();
    assert.equal(processWord('80${X:-80}', env), '8080');
    assert.deepEqual(processWords('80${X:-80}', env), ['80']);
    assert.deepEqual(processWords('a b${X:-c}', env), ['a', 'c']);
  });
});
