// BuildKit's own parser test data (moby/buildkit frontend/dockerfile/parser), read in place from
// /work/shared/testdata: every positive case dumps to its `result` byte for byte, every negative
// case fails, testfile-line has BuildKit's line ranges and the heredoc case its heredocs.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Heredoc } from '../../../src/dockerfile/ast.ts';
import { dumpDockerfile } from '../../../src/dockerfile/dump.ts';
import { DockerfileError } from '../../../src/dockerfile/errors.ts';
import { chompHeredocContent } from '../../../src/dockerfile/heredoc.ts';
import { parseDockerfile } from '../../../src/dockerfile/parser.ts';
import { sharedTestdata } from '../../helpers/wharf.ts';

const parserData = join(sharedTestdata, 'buildkit-dockerfile', 'parser');
const skip = existsSync(parserData) ? false : `BuildKit parser test data absent at ${parserData}`;
const cases = (dir: string): string[] => (skip ? [] : readdirSync(join(parserData, dir)).sort());

describe('parser: BuildKit test data', () => {
  it('dumps each of the 33 positive cases exactly as its result file', { skip }, () => {
    const names = cases('testfiles');
    const failures: string[] = [];
    for (const name of names) {
      const dir = join(parserData, 'testfiles', name);
      const expected = readFileSync(join(dir, 'result'), 'utf8');
      const ast = parseDockerfile(readFileSync(join(dir, 'Dockerfile'), 'utf8'), {
        file: `${name}/Dockerfile`,
      });
      if (`${dumpDockerfile(ast)}\n` !== expected) failures.push(name);
    }
    console.log(
      `positive parser cases: ${names.length - failures.length}/${names.length} match byte for byte`,
    );
    assert.deepEqual(failures, []);
    assert.equal(names.length, 33);
  });

  it('rejects each of the 4 negative cases with a DockerfileError', { skip }, () => {
    const names = cases('testfiles-negative');
    for (const name of names) {
      const source = readFileSync(join(parserData, 'testfiles-negative', name, 'Dockerfile'), 'utf8');
      assert.throws(() => parseDockerfile(source), DockerfileError, name);
    }
    console.log(`negative parser cases: ${names.length} rejected`);
    assert.equal(names.length, 4);
  });

  it('gives the negative cases their reasons and lines', { skip }, () => {
    const reason = (name: string): string => {
      const source = readFileSync(join(parserData, 'testfiles-negative', name, 'Dockerfile'), 'utf8');
      try {
        parseDockerfile(source);
      } catch (error) {
        assert.ok(error instanceof DockerfileError);
        return error.message;
      }
      return 'no error';
    };
    assert.match(reason('empty_dockerfile'), /^Dockerfile: file with no instructions/);
    assert.match(reason('only_comments'), /^Dockerfile: file with no instructions/);
    assert.match(reason('env_no_value'), /^Dockerfile:3: ENV must have two arguments/);
    assert.match(
      reason('shykes-nested-json'),
      /^Dockerfile:1: when using JSON array syntax, arrays must be comprised of strings only/,
    );
  });

  it('gives testfile-line the line ranges BuildKit gives', { skip }, () => {
    const ast = parseDockerfile(readFileSync(join(parserData, 'testfile-line', 'Dockerfile'), 'utf8'));
    assert.deepEqual(
      ast.instructions.map((node) => [node.range.startLine, node.range.endLine]),
      [
        [5, 5],
        [11, 12],
        [17, 31],
      ],
    );
    assert.deepEqual(ast.directives, [{ name: 'escape', value: '\\', line: 1 }]);
  });

  it('extracts the heredocs of heredoc-extracted as expected.json says', { skip }, () => {
    const dir = join(parserData, 'heredoc-extracted');
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
      children: Array<{
        line: string;
        heredocs: Array<{
          name: string;
          content: string;
          expand: boolean;
          chomp: boolean;
          fd: number;
        }> | null;
      }>;
    };
    const ast = parseDockerfile(readFileSync(join(dir, 'Dockerfile'), 'utf8'));
    assert.equal(ast.instructions.length, expected.children.length);
    let heredocCount = 0;
    expected.children.forEach((child, index) => {
      const node = ast.instructions[index]!;
      assert.equal(node.original, child.line, `child ${index}`);
      // BuildKit leaves `<<-` tabs to its instruction layer; Wharf's AST strips them already.
      const want = (child.heredocs ?? []).map((doc) => ({
        name: doc.name,
        content: doc.chomp ? chompHeredocContent(doc.content) : doc.content,
        expand: doc.expand,
        chomp: doc.chomp,
        fd: doc.fd,
      }));
      const got = node.heredocs.map((doc: Heredoc) => ({
        name: doc.name,
        content: doc.content,
        expand: doc.expand,
        chomp: doc.chomp,
        fd: doc.fileDescriptor ?? 0,
      }));
      assert.deepEqual(got, want, `child ${index}: ${child.line}`);
      heredocCount += got.length;
    });
    console.log(
      `heredoc case: ${expected.children.length} instructions, ${heredocCount} heredocs as expected`,
    );
  });
});
