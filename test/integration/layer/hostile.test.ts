// A corpus of hostile layers, built here, each with the outcome containerd's rules give it:
// contained (applied, and the entry landed inside the target) or refused (an error naming the
// entry). Every case runs against a plain directory and against an overlay upper directory with a
// lower layer; a sentinel directory outside the target, the lower layer and the host's /etc/passwd
// hash the same before and after.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyLayer } from '../../../src/image/layer/apply.ts';
import { type EntrySpec, hashTree, tarOf } from './helpers.ts';

type Mode = 'plain' | 'overlay';

interface HostileCase {
  title: string;
  entries: (w: string) => EntrySpec[];
  outcome: 'contained' | 'refused';
  /** Contained: a path (relative to the target) that must now exist inside it, and what it is. */
  expect?: (
    w: string,
    mode: Mode,
  ) => { path: string; content?: string; type?: 'file' | 'dir' | 'char' | 'symlink' };
  /** Refused: the entry the error must name, and what it must say. */
  error?: { entry: string; message: RegExp };
  modes?: Mode[];
}

const pwned = 'pwned';
const cases: HostileCase[] = [
  {
    title: '../ in a name',
    entries: () => [{ name: '../outside/pwned', body: pwned }],
    outcome: 'contained',
    expect: () => ({ path: 'outside/pwned', content: pwned }),
  },
  {
    title: '../ deep inside a name',
    entries: () => [{ name: 'a/../../../../outside/pwned', body: pwned }],
    outcome: 'contained',
    expect: () => ({ path: 'outside/pwned', content: pwned }),
  },
  {
    title: 'absolute name of the sentinel',
    entries: (w) => [{ name: `${w}/outside/pwned`, body: pwned }],
    outcome: 'contained',
    expect: (w) => ({ path: `${w.slice(1)}/outside/pwned`, content: pwned }),
  },
  {
    title: 'absolute /etc/passwd',
    entries: () => [{ name: '/etc/passwd', body: pwned }],
    outcome: 'contained',
    expect: () => ({ path: 'etc/passwd', content: pwned }),
  },
  {
    title: 'absolute symlink out, then a file written through it',
    entries: (w) => [
      { name: 'evil', type: 'symlink', linkname: `${w}/outside` },
      { name: 'evil/pwned', body: pwned },
    ],
    outcome: 'contained',
    expect: (w) => ({ path: `${w.slice(1)}/outside/pwned`, content: pwned }),
  },
  {
    title: 'relative symlink out, then a file written through it',
    entries: () => [
      { name: 'evil', type: 'symlink', linkname: '../outside' },
      { name: 'evil/pwned', body: pwned },
    ],
    outcome: 'contained',
    expect: () => ({ path: 'outside/pwned', content: pwned }),
  },
  {
    title: 'nested relative symlink climbing far out',
    entries: () => [
      { name: 'a/', type: 'dir' },
      { name: 'a/b/', type: 'dir' },
      { name: 'a/b/evil', type: 'symlink', linkname: '../../../../../../outside' },
      { name: 'a/b/evil/pwned', body: pwned },
    ],
    outcome: 'contained',
    expect: () => ({ path: 'outside/pwned', content: pwned }),
  },
  {
    title: 'symlink to /etc, then passwd through it',
    entries: () => [
      { name: 'host-etc', type: 'symlink', linkname: '/etc' },
      { name: 'host-etc/passwd', body: pwned },
    ],
    outcome: 'contained',
    expect: () => ({ path: 'etc/passwd', content: pwned }),
  },
  {
    title: 'symlink chain ending at /',
    entries: () => [
      { name: 's1', type: 'symlink', linkname: 's2' },
      { name: 's2', type: 'symlink', linkname: '/' },
      { name: 's1/pwned', body: pwned },
    ],
    outcome: 'contained',
    expect: () => ({ path: 'pwned', content: pwned }),
  },
  {
    title: 'symlink whose target climbs past a missing component',
    entries: () => [
      { name: 'evil', type: 'symlink', linkname: 'missing/../../../outside' },
      { name: 'evil/pwned', body: pwned },
    ],
    outcome: 'contained',
    expect: () => ({ path: 'outside/pwned', content: pwned }),
  },
  {
    title: 'symlink to a sentinel file, then a file of the same name',
    entries: (w) => [
      { name: 'evil', type: 'symlink', linkname: `${w}/outside/file` },
      { name: 'evil', body: pwned },
    ],
    outcome: 'contained',
    expect: () => ({ path: 'evil', content: pwned }),
  },
  {
    title: 'symlink to the sentinel, then a directory of the same name',
    entries: (w) => [
      { name: 'evil', type: 'symlink', linkname: `${w}/outside` },
      { name: 'evil/', type: 'dir' },
      { name: 'evil/pwned', body: pwned },
    ],
    outcome: 'contained',
    expect: () => ({ path: 'evil/pwned', content: pwned }),
  },
  {
    title: 'pax path record climbing out',
    entries: () => [{ name: `../../outside/${'x'.repeat(120)}`, body: pwned }],
    outcome: 'contained',
    expect: () => ({ path: `outside/${'x'.repeat(120)}`, content: pwned }),
  },
  {
    title: 'device node named outside',
    entries: () => [{ name: '../outside/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 }],
    outcome: 'contained',
    expect: () => ({ path: 'outside/null', type: 'char' }),
  },
  {
    title: 'hardlink to a symlink pointing out, then a file of the link name',
    entries: (w) => [
      { name: 'sl', type: 'symlink', linkname: `${w}/outside/file` },
      { name: 'hl', type: 'link', linkname: 'sl' },
      { name: 'hl', body: pwned },
    ],
    outcome: 'contained',
    expect: () => ({ path: 'hl', content: pwned }),
  },
  {
    title: 'hardlink out with ../',
    entries: () => [{ name: 'hl', type: 'link', linkname: '../outside/file' }],
    outcome: 'refused',
    error: { entry: 'hl', message: /hardlink target outside\/file does not exist/ },
  },
  {
    title: 'hardlink out with an absolute target',
    entries: (w) => [{ name: 'hl', type: 'link', linkname: `${w}/outside/file` }],
    outcome: 'refused',
    error: { entry: 'hl', message: /does not exist/ },
  },
  {
    title: 'hardlink through a symlink pointing out',
    entries: (w) => [
      { name: 'evil', type: 'symlink', linkname: `${w}/outside` },
      { name: 'hl', type: 'link', linkname: 'evil/file' },
    ],
    outcome: 'refused',
    error: { entry: 'hl', message: /does not exist/ },
  },
  {
    title: 'hardlink to /etc/passwd',
    entries: () => [{ name: 'hl', type: 'link', linkname: '/etc/passwd' }],
    outcome: 'refused',
    error: { entry: 'hl', message: /does not exist/ },
  },
  {
    title: 'whiteout with ../',
    entries: () => [{ name: '../outside/.wh.file' }],
    outcome: 'contained',
  },
  {
    title: 'whiteout through an absolute symlink',
    entries: (w) => [{ name: 'evil', type: 'symlink', linkname: `${w}/outside` }, { name: 'evil/.wh.file' }],
    outcome: 'contained',
  },
  {
    title: 'whiteout through a relative symlink',
    entries: () => [
      { name: 'evil', type: 'symlink', linkname: '../outside' },
      { name: 'evil/.wh.file' },
      { name: 'evil/.wh.sub' },
    ],
    outcome: 'contained',
  },
  {
    title: 'opaque directory through a symlink',
    entries: () => [
      { name: 'evil', type: 'symlink', linkname: '../../outside' },
      { name: 'evil/.wh..wh..opq' },
    ],
    outcome: 'contained',
  },
  {
    title: 'whiteout of ..',
    entries: () => [{ name: 'a/.wh...' }],
    outcome: 'refused',
    error: { entry: 'a/.wh...', message: /invalid whiteout/ },
  },
  {
    title: 'whiteout of .',
    entries: () => [{ name: '.wh..' }],
    outcome: 'refused',
    error: { entry: '.wh..', message: /invalid whiteout/ },
  },
  {
    title: 'symlink loop',
    entries: () => [
      { name: 'loop', type: 'symlink', linkname: 'loop' },
      { name: 'loop/x', body: pwned },
    ],
    outcome: 'refused',
    error: { entry: 'loop/x', message: /too many levels of symbolic links/ },
  },
  {
    title: 'a symlink of the lower layer pointing out, written through',
    entries: () => [{ name: 'lowlink/pwned', body: pwned }],
    outcome: 'contained',
    expect: (w) => ({ path: `${w.slice(1)}/outside/pwned`, content: pwned }),
    modes: ['overlay'],
  },
  {
    title: 'a whiteout through a symlink of the lower layer',
    entries: () => [{ name: 'lowlink/.wh.file' }],
    outcome: 'contained',
    modes: ['overlay'],
  },
];

describe('hostile layers', () => {
  let w: string;
  let outside: string;
  let lower: string;
  let sentinelHash: string;
  let lowerHash: string;
  let passwdHash: string;

  before(() => {
    w = mkdtempSync(join(tmpdir(), 'wharf-hostile-'));
    outside = join(w, 'outside');
    mkdirSync(join(outside, 'sub'), { recursive: true });
    writeFileSync(join(outside, 'file'), 'secret\n');
    writeFileSync(join(outside, 'sub/nested'), 'nested\n');
    lower = join(w, 'lower');
    mkdirSync(join(lower, 'd'), { recursive: true });
    writeFileSync(join(lower, 'd/x'), 'lower\n');
    symlinkSync(outside, join(lower, 'lowlink'));
    sentinelHash = hashTree(outside);
    lowerHash = hashTree(lower);
    passwdHash = readFileSync('/etc/passwd', 'utf8');
  });

  after(() => {
    rmSync(w, { recursive: true, force: true });
  });

  let n = 0;
  for (const mode of ['plain', 'overlay'] as const) {
    describe(mode, () => {
      for (const hostile of cases) {
        if (hostile.modes && !hostile.modes.includes(mode)) continue;
        it(`${hostile.title}: ${hostile.outcome}`, async () => {
          const target = join(w, `target-${mode}-${n++}`);
          mkdirSync(target);
          const layer = tarOf(hostile.entries(w));
          const apply = applyLayer([layer], target, mode === 'overlay' ? { overlayLowers: [lower] } : {});
          if (hostile.outcome === 'refused') {
            const { entry, message } = hostile.error!;
            await assert.rejects(apply, (error: Error) => {
              assert.ok(error.message.includes(`"${entry}"`), `error names the entry: ${error.message}`);
              assert.match(error.message, message);
              return true;
            });
          } else {
            await apply;
            const expected = hostile.expect?.(w, mode);
            if (expected) {
              const path = join(target, expected.path);
              const stats = lstatSync(path);
              if ((expected.type ?? 'file') === 'file')
                assert.ok(stats.isFile(), `${expected.path} is a file`);
              if (expected.type === 'char') assert.ok(stats.isCharacterDevice());
              if (expected.content !== undefined) assert.equal(readFileSync(path, 'utf8'), expected.content);
            }
          }
          assert.equal(hashTree(outside), sentinelHash, 'the sentinel outside the target is unchanged');
          assert.equal(hashTree(lower), lowerHash, 'the lower layer is unchanged');
          assert.equal(readFileSync('/etc/passwd', 'utf8'), passwdHash, '/etc/passwd is unchanged');
        });
      }
    });
  }
});
