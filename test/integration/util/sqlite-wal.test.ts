// Several processes opening one fresh SQLite file at once (src/util/sqlite-wal.ts): all of them get
// it in WAL mode. A bare `PRAGMA journal_mode = WAL` fails some of them with SQLITE_BUSY here (two
// processes switching at once is a deadlock SQLite breaks without waiting).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../helpers/wharf.ts';

describe('openSharedSqlite', () => {
  const work = mkdtempSync(join(tmpdir(), 'wharf-sqlite-wal-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('opens fresh files from four processes at the same moment without SQLITE_BUSY', async () => {
    const fixture = join(projectRoot, 'test/integration/util/fixtures/open-shared-sqlite.ts');
    // Far enough ahead for all four to have started (tsx takes a few hundred ms on 2 cores).
    const startAt = Date.now() + 3000;
    const run = () =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, work, String(startAt), '60'], {
        cwd: projectRoot,
      });
    const outputs = await Promise.all([run(), run(), run(), run()]);
    assert.deepEqual(
      outputs.map((o) => o.stdout),
      ['', '', '', ''],
    );
  });
});
