// Fuzz test of the parser: 12,000 hostile Dockerfiles from a fixed seed (generated ones, and
// mutations of BuildKit's test files and of generated ones). Each must parse, or fail with a
// DockerfileError whose line lies in the file, within a second; nothing else may escape.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dumpDockerfile } from '../../../src/dockerfile/dump.ts';
import { DockerfileError } from '../../../src/dockerfile/errors.ts';
import { parseDockerfile } from '../../../src/dockerfile/parser.ts';
import { validateKnownInstructions } from '../../../src/dockerfile/validate-known-instructions.ts';
import { sharedTestdata } from '../../helpers/wharf.ts';
import { generateDockerfile, lineCount, mutate, prng } from './dockerfile-mutator.ts';

const SEED = 0x5eed_d0c;
const CASES = 12_000;
const parserData = join(sharedTestdata, 'buildkit-dockerfile', 'parser');

/** BuildKit's parser test files when present, plus a few built-in seeds so the test always runs. */
function seedFiles(): string[] {
  const seeds = [
    'FROM alpine AS build\nARG V=1\nRUN --mount=type=cache,target=/c <<EOF\nset -e\necho $V\nEOF\nCOPY --from=build ["/a", "/b"]\n',
    '# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN echo `\n  hi\nENV a=b c="d e"\nHEALTHCHECK --interval=5s CMD ["true"]\n',
    'FROM x\r\nONBUILD COPY <<-A <<B /d\r\n\tz\r\nA\r\nb\r\nB\r\nLABEL k v\r\n',
  ];
  for (const dir of ['testfiles', 'testfiles-negative']) {
    const base = join(parserData, dir);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort())
      seeds.push(readFileSync(join(base, name, 'Dockerfile'), 'utf8'));
  }
  for (const file of ['testfile-line/Dockerfile', 'heredoc-extracted/Dockerfile']) {
    if (existsSync(join(parserData, file))) seeds.push(readFileSync(join(parserData, file), 'utf8'));
  }
  return seeds;
}

describe('parser: fuzz', () => {
  it(`parses ${CASES} generated and mutated Dockerfiles or fails with a DockerfileError inside the file`, () => {
    const random = prng(SEED);
    const seeds = seedFiles();
    const pickSeed = (): string => seeds[Math.floor(random() * seeds.length)]!;
    const counts = { parsed: 0, failed: 0, unknownWords: 0 };
    let slowest = 0;

    for (let i = 0; i < CASES; i++) {
      const roll = random();
      let source =
        roll < 0.4
          ? generateDockerfile(random)
          : roll < 0.8
            ? mutate(random, pickSeed(), pickSeed())
            : pickSeed();
      if (roll >= 0.8 || random() < 0.3) source = mutate(random, source, generateDockerfile(random));
      const where = `case ${i}: ${JSON.stringify(source.slice(0, 300))}`;

      const started = performance.now();
      const lines = lineCount(source);
      const checkError = (error: unknown): void => {
        if (!(error instanceof DockerfileError)) assert.fail(`${where}: threw ${String(error)}`);
        // Line 0 is the whole file, only for a file without instructions.
        if (error.line === 0) assert.match(error.reason, /^file with no instructions/, where);
        else assert.ok(error.line >= 1 && error.line <= lines, `${where}: line ${error.line} in the file`);
        assert.ok(error.message.startsWith('Dockerfile:'), where);
      };
      try {
        const ast = parseDockerfile(source);
        dumpDockerfile(ast);
        counts.parsed++;
        for (const node of ast.instructions) {
          assert.ok(
            node.range.startLine >= 1 && node.range.endLine <= lines,
            `${where}: range inside the file`,
          );
          assert.ok(node.range.startLine <= node.range.endLine, `${where}: range in order`);
        }
        try {
          validateKnownInstructions(ast);
        } catch (error) {
          checkError(error);
          counts.unknownWords++;
        }
      } catch (error) {
        checkError(error);
        counts.failed++;
      }
      const elapsed = performance.now() - started;
      slowest = Math.max(slowest, elapsed);
      assert.ok(elapsed < 1000, `${where}: took ${elapsed.toFixed(0)} ms`);
    }

    console.log(
      `fuzz: ${CASES} cases from ${seeds.length} seeds: ${counts.parsed} parsed (${counts.unknownWords} with unknown words), ${counts.failed} DockerfileErrors, slowest ${slowest.toFixed(1)} ms`,
    );
    assert.ok(counts.parsed > CASES / 10 && counts.failed > CASES / 10, 'the corpus exercises both outcomes');
  });
});
