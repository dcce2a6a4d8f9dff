#!/usr/bin/env node
// `npm run checklist`: which items of the Dockerfile behaviours checklist
// (shared/docs/dockerfile-behaviours.md) have a named test, which are deferred, which are missing.
//
// A test names the items it proves in its title, in either of the two conventions the suite uses:
// a leading list of numbers (`it('58, 61: a file copied to dir/ ...')`, the build tests) or `#N`
// tokens (`it('#31 #33 ENV keys and values')`, the front-end tests). Deferred items may come only
// from issue 12's closed list; everything else must be covered.
//
// Usage: node scripts/checklist-coverage.mjs [--verbose] [--json] [CHECKLIST]
// Exits 1 when a required item has no test.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../', import.meta.url));

/** Issue 12's closed list of deferred items, with why. */
const DEFERRED = new Map([
  [24, 'named build contexts'],
  [46, 'SSH mounts'],
  [51, 'CDI devices and build options (shm-size, ulimit, cgroup-parent, memory)'],
  [93, 'git sources'],
  [94, 'git sources'],
  [113, 'lint rules (CopyIgnoredFile) and the # check= directive'],
  [118, 'cache export and import to registries'],
]);
/** Items required only in part: the rest waits with the closed list. */
const PARTLY_DEFERRED = new Map([[23, 'its multi-platform half (one manifest per platform)']]);

const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const json = args.includes('--json');
const checklistPath =
  args.find((a) => !a.startsWith('--')) ??
  process.env.WHARF_CHECKLIST ??
  join(projectRoot, '..', 'shared', 'docs', 'dockerfile-behaviours.md');

let checklist;
try {
  checklist = readFileSync(checklistPath, 'utf8');
} catch (error) {
  console.error(`checklist-coverage: cannot read ${checklistPath}: ${error.message}`);
  process.exit(2);
}

/** The numbered items, with their section and first line. */
const items = new Map();
let section = '';
for (const line of checklist.split('\n')) {
  const heading = /^#{2,4}\s+(.*)$/.exec(line);
  if (heading) section = heading[1].trim();
  const item = /^(\d+)\.\s+(.*)$/.exec(line);
  if (item) items.set(Number(item[1]), { section, text: item[2].trim() });
}
const linterSection = /### Linter rules/.test(checklist);

/** Every *.test.ts under test/. */
function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** The item numbers a test title names. */
function numbersIn(title) {
  const found = new Set();
  const lead = /^\s*((?:\d+\s*(?:,\s*|\s+))*\d+)\s*(?:\([^)]*\))?\s*:/.exec(title);
  if (lead) for (const n of lead[1].split(/[\s,]+/).filter(Boolean)) found.add(Number(n));
  for (const m of title.matchAll(/(?:^|[\s(,])#(\d+)\b/g)) found.add(Number(m[1]));
  return found;
}

/** Test titles of a file: it('...'), test('...'), with ', " or ` quotes. */
function titlesIn(source) {
  const titles = [];
  const pattern = /\b(?:it|test)(?:\.(?:skip|only|todo))?\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;
  for (const m of source.matchAll(pattern)) titles.push(m[2].replace(/\\(.)/g, '$1'));
  return titles;
}

const coverage = new Map(); // item -> [{ file, title }]
let namedTests = 0;
for (const file of testFiles(join(projectRoot, 'test'))) {
  const rel = relative(projectRoot, file);
  for (const title of titlesIn(readFileSync(file, 'utf8'))) {
    const numbers = numbersIn(title);
    if (numbers.size === 0) continue;
    namedTests++;
    for (const n of numbers) {
      if (!items.has(n)) continue;
      const list = coverage.get(n) ?? [];
      list.push({ file: rel, title });
      coverage.set(n, list);
    }
  }
}

const unknownDeferred = [...DEFERRED.keys()].filter((n) => !items.has(n));
const covered = [];
const deferred = [];
const missing = [];
for (const n of [...items.keys()].sort((a, b) => a - b)) {
  if (DEFERRED.has(n)) deferred.push(n);
  else if (coverage.has(n)) covered.push(n);
  else missing.push(n);
}
const byBuildTests = covered.filter((n) => coverage.get(n).some((t) => /\/build\//.test(t.file)));

if (json) {
  console.log(
    JSON.stringify(
      {
        checklist: checklistPath,
        items: items.size,
        covered,
        deferred: deferred.map((n) => ({ item: n, reason: DEFERRED.get(n) })),
        partlyDeferred: [...PARTLY_DEFERRED].map(([item, reason]) => ({ item, reason })),
        missing,
        tests: Object.fromEntries([...coverage].map(([n, list]) => [n, list])),
      },
      null,
      2,
    ),
  );
} else {
  const pad = (n) => String(n).padStart(4);
  console.log(`Dockerfile behaviours checklist: ${items.size} items (${checklistPath})`);
  console.log(
    `  covered: ${pad(covered.length)}  by ${namedTests} named tests (${byBuildTests.length} of these items by a build test, test/*/build/)`,
  );
  console.log(`  deferred:${pad(deferred.length)}  ${deferred.join(' ')} (issue 12's closed list)`);
  for (const n of deferred) console.log(`             ${pad(n)}  ${DEFERRED.get(n)}`);
  for (const [n, why] of PARTLY_DEFERRED)
    console.log(
      `             ${pad(n)}  in part: ${why} (the rest is required${coverage.has(n) ? ' and covered' : ''})`,
    );
  if (linterSection) console.log('             the linter rules list (with 113)');
  console.log(`  missing: ${pad(missing.length)}  ${missing.join(' ')}`);
  for (const n of missing) console.log(`             ${pad(n)}  ${items.get(n).text.slice(0, 100)}`);
  const onlyFrontEnd = covered.filter((n) => !byBuildTests.includes(n));
  if (onlyFrontEnd.length > 0) console.log(`  covered by front-end tests only: ${onlyFrontEnd.join(' ')}`);
  if (verbose) {
    console.log('');
    for (const n of [...items.keys()].sort((a, b) => a - b)) {
      const tests = coverage.get(n) ?? [];
      const state = DEFERRED.has(n) ? 'deferred' : tests.length > 0 ? 'covered' : 'MISSING';
      console.log(`${pad(n)} ${state.padEnd(8)} ${items.get(n).text.slice(0, 90)}`);
      for (const t of tests) console.log(`            ${t.file}: ${t.title.slice(0, 100)}`);
    }
  }
}
if (unknownDeferred.length > 0) {
  console.error(`checklist-coverage: deferred items not in the checklist: ${unknownDeferred.join(' ')}`);
  process.exit(2);
}
process.exit(missing.length > 0 ? 1 : 0);
