import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBasic } from '../../../src/registry/auth/access-controller.ts';
import { checkRobotName, checkUserName, isBcryptHash } from '../../../src/registry/auth/credentials.ts';
import { parseHtpasswd } from '../../../src/registry/auth/htpasswd.ts';
import { formatScope, parseScopes } from '../../../src/registry/auth/scope.ts';
import { formatDuration, parseDuration } from '../../../src/registry/duration.ts';
import { isValidProjectName, projectOf } from '../../../src/registry/project-name.ts';

const HASH = '$2y$05$abcdefghijklmnopqrstuu5YxVqaf3Ju2m3x7q0Yh3nRZ1D2L0iRu';

describe('parseDuration', () => {
  it("reads Go's duration forms and days", () => {
    assert.equal(parseDuration('0s'), 0);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('7d'), 7 * 86_400_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
  });
  it('refuses numbers without units and junk', () => {
    for (const bad of ['10', '', 'h', '1h junk', '-1s', '1x'])
      assert.throws(() => parseDuration(bad), /Cannot parse duration/);
  });
  it('formats back', () => {
    assert.equal(formatDuration(3_600_000), '1h');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(0), '0s');
  });
});

describe('parseScopes', () => {
  it('splits type, name and actions; names may hold colons; several per value', () => {
    assert.deepEqual(
      parseScopes(['repository:team/app:pull,push', 'registry:catalog:* repository:localhost:5000/x:pull']),
      [
        { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
        { type: 'repository', name: 'localhost:5000/x', actions: ['pull'] },
      ],
    );
  });
  it('drops resource classes and malformed scopes', () => {
    assert.deepEqual(
      parseScopes(['repository(plugin):p:pull', 'nonsense', 'repository::pull', 'repository:a:']),
      [{ type: 'repository', name: 'p', actions: ['pull'] }],
    );
    assert.equal(
      formatScope({ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }),
      'repository:a/b:pull,push',
    );
  });
});

describe('parseHtpasswd', () => {
  it('reads bcrypt lines and comments', () => {
    const users = parseHtpasswd(`# comment\n\nalice:${HASH}\r\nbob:${HASH.replace('$2y$', '$2b$')}\n`, 'f');
    assert.deepEqual([...users.keys()], ['alice', 'bob']);
    assert.ok(isBcryptHash(HASH));
  });
  it('refuses other hash formats with the line number', () => {
    assert.throws(
      () => parseHtpasswd(`alice:${HASH}\nbob:$apr1$xyz$abc\n`, 'users'),
      /users: line 2: .*htpasswd -B/,
    );
    assert.throws(() => parseHtpasswd('no-colon\n', 'f'), /line 1/);
  });
});

describe('names', () => {
  it('takes the first path component as the project', () => {
    assert.equal(projectOf('team/app/api'), 'team');
    assert.equal(projectOf('alpine'), 'alpine');
    assert.ok(isValidProjectName('my-team.dev'));
    assert.ok(!isValidProjectName('Team'));
    assert.ok(!isValidProjectName('a/b'));
  });
  it('checks user and robot names', () => {
    assert.equal(checkUserName('alice@example.com'), 'alice@example.com');
    assert.throws(() => checkUserName('a:b'), /Cannot use user name/);
    assert.throws(() => checkUserName('robot$x'), /Cannot use user name/);
    assert.equal(checkRobotName('robot$ci-main'), 'ci-main');
    assert.throws(() => checkRobotName('CI'), /Cannot use robot name/);
  });
  it('parses Basic credentials, passwords with colons included', () => {
    assert.deepEqual(parseBasic(Buffer.from('alice:pa:ss').toString('base64')), {
      user: 'alice',
      password: 'pa:ss',
    });
    assert.equal(parseBasic(Buffer.from('nocolon').toString('base64')), undefined);
  });
});
