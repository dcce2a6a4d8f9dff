// shellQuote (src/util/shell-quote.ts), which conmon's prelude and the daemon's exec wrapper share: checked
// against sh itself, so a word comes back exactly, quotes, expansions and newlines included.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { shellQuote } from '../../../src/util/shell-quote.ts';

test('shellQuote: sh reads back every word as it was, nothing in it interpreted', () => {
  const words = ['plain', '', "it's", "''", 'a b\tc\nd', '$HOME `id` $(id) \\ " * ? ; | & > <', 'é ✓'];
  const script = `printf '%s\\0' ${words.map(shellQuote).join(' ')}`;
  const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  assert.deepEqual(out.split('\0').slice(0, -1), words);
});
