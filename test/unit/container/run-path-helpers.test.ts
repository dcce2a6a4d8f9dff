// Pure parts of the run path: mountinfo parsing (what is mounted under a rootfs, in the order to
// unmount it; a volatile overlay's option as old and new kernels show it) and crun's start
// errors in the words Docker's CLI reads for its exit code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mountsBelow, parseMountInfo } from '../../../src/container/mount-points.ts';
import { dockerStartMessage, startErrorExitCode } from '../../../src/container/start-errors.ts';

const MOUNTINFO = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '48 27 0:40 / /var/lib/w/containers/c1/rootfs rw,relatime - overlay overlay rw,lowerdir=l/1,upperdir=snapshots/8/fs,workdir=snapshots/8/work,uuid=on,fsync=volatile',
  '49 48 0:41 / /var/lib/w/containers/c1/rootfs/mnt\\040x rw - tmpfs tmpfs rw,size=64k',
  '50 27 0:42 / /var/lib/w/containers/c10/rootfs rw - overlay overlay rw,lowerdir=l/1,volatile',
  '',
].join('\n');

describe('mountinfo', () => {
  it('parses mount points (octal escapes decoded), types and super options', () => {
    const entries = parseMountInfo(MOUNTINFO);
    assert.equal(entries.length, 4);
    assert.deepEqual(entries[2], {
      mountpoint: '/var/lib/w/containers/c1/rootfs/mnt x',
      fstype: 'tmpfs',
      superOptions: ['rw', 'size=64k'],
    });
    assert.ok(entries[1]!.superOptions.includes('fsync=volatile'), 'a 6.x kernel shows fsync=volatile');
    assert.ok(entries[3]!.superOptions.includes('volatile'), 'an older one shows volatile');
  });

  it('selects a directory and what is below it, not its namesakes, deepest first', () => {
    const under = (dir: string) =>
      mountsBelow(parseMountInfo(MOUNTINFO), dir).map((entry) => entry.mountpoint);
    assert.deepEqual(under('/var/lib/w/containers/c1/rootfs/'), [
      '/var/lib/w/containers/c1/rootfs/mnt x',
      '/var/lib/w/containers/c1/rootfs',
    ]);
  });
});

describe('start errors', () => {
  it("rewrites crun's words for a process that cannot run into runc's, as Docker's CLI reads them", () => {
    const notFound = dockerStartMessage(
      'Cannot create container abc: crun: executable file `nope` not found in $PATH: No such file or directory',
      'nope',
    );
    assert.equal(
      notFound,
      'Cannot create container abc: crun: exec: "nope": executable file not found in $PATH',
    );
    assert.equal(startErrorExitCode(notFound), 127);
    const denied = dockerStartMessage('crun: open executable: Permission denied', '/etc/passwd');
    assert.equal(denied, 'crun: exec: "/etc/passwd": permission denied');
    assert.equal(startErrorExitCode(denied), 126);
    const directory = dockerStartMessage('crun: open executable: Operation not permitted', '/etc');
    assert.equal(directory, 'crun: exec: "/etc": permission denied');
    assert.equal(startErrorExitCode(directory), 126);
    assert.equal(dockerStartMessage('cgroup busy', 'sh'), 'cgroup busy');
  });
});
