// Runs the test files under the given directories with node's own runner (TypeScript through tsx),
// prints how many tests ran, passed, failed and were skipped, and fails when CI=true and any test
// was skipped: a test that cannot run must not pass silently.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const filter = process.env.TEST_FILTER; // substring of file paths to run, for local iteration
const files = [];
const walk = (dir) => {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts') && (!filter || path.includes(filter))) files.push(path);
  }
};
for (const root of roots.length ? roots : ['test']) walk(root);
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}

const outDir = mkdtempSync(join(tmpdir(), 'wharf-test-counts-'));
const countsFile = join(outDir, 'counts.json');
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/count-reporter.mjs',
    `--test-reporter-destination=${countsFile}`,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, WHARF_TEST: '1' } },
);
let counts;
try {
  counts = JSON.parse(readFileSync(countsFile, 'utf8'));
} catch {
  counts = undefined;
}
rmSync(outDir, { recursive: true, force: true });
if (!counts) {
  console.error('run-tests: the runner produced no counts');
  process.exit(result.status || 1);
}
const total = counts.passed + counts.failed + counts.skipped + counts.todo;
console.log(
  `\nTests: ${total} ran in ${files.length} files: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped, ${counts.todo} todo`,
);
let status = result.status ?? 1;
if (counts.failed > 0 && status === 0) status = 1;
if (process.env.CI === 'true' && counts.skipped + counts.todo > 0) {
  console.error(
    `run-tests: CI forbids skipped and todo tests; skipped:\n  ${counts.skippedNames.join('\n  ')}`,
  );
  status = 1;
}
process.exit(status);
