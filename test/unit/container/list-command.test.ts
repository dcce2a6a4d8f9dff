// The Command of `docker ps` / GET /containers/json (src/container/container-views.ts
// listCommand): Docker puts an argument with a space in single quotes, and leaves the rest as is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listCommand } from '../../../src/container/container-views.ts';

describe('listCommand', () => {
  it('writes the path and arguments as Docker lists them', () => {
    assert.equal(
      listCommand('sh', ['-c', 'while true; do sleep 1; done']),
      "sh -c 'while true; do sleep 1; done'",
    );
    assert.equal(listCommand('/app/run.sh', []), '/app/run.sh');
    assert.equal(listCommand('echo', ['a', 'b"c', "it's"]), `echo a b"c it's`);
    assert.equal(listCommand('printf', ['%s\\n', 'x y']), "printf %s\\n 'x y'");
  });
});
