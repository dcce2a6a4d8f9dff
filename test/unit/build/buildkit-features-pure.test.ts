// Pure parts of the BuildKit features: --checksum parsing (go-digest's messages), URL file
// names, history times under SOURCE_DATE_EPOCH, secret masking in progress, and the CLI's
// --output and --secret values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChecksum, urlFileName } from '../../../src/build/http-source.ts';
import { goTime, ImageState } from '../../../src/build/image-state.ts';
import { BuildProgress, type LogLine, type ProgressPrinter } from '../../../src/build/progress.ts';
import { parseOutput, parseSecret } from '../../../src/cli/commands/build.ts';

describe('build: ADD --checksum values (go-digest Parse)', () => {
  it('92: a missing prefix, an unknown or unsupported algorithm and a bad length each have their message', () => {
    const hex = 'a'.repeat(64);
    assert.deepEqual(parseChecksum(`sha256:${hex}`), { algorithm: 'sha256', hex });
    assert.deepEqual(parseChecksum(`sha512:${'b'.repeat(128)}`).algorithm, 'sha512');
    assert.throws(() => parseChecksum(hex), /^.*invalid checksum digest format$/);
    assert.throws(
      () => parseChecksum('md5:7e55db001d319a94b0b713529a756623'),
      /unsupported digest algorithm/,
    );
    assert.throws(() => parseChecksum(`unknown:${hex}`), /unsupported digest algorithm/);
    assert.throws(() => parseChecksum('sha256:abc'), /invalid checksum digest length/);
    assert.throws(() => parseChecksum(`sha256:${'G'.repeat(64)}`), /invalid checksum digest format/);
    assert.throws(() => parseChecksum('sha256:'), /invalid checksum digest format/);
  });
});

describe('build: ADD <url> file names', () => {
  it("89: the URL's last path element, or __unnamed__", () => {
    assert.equal(urlFileName('http://h/foo'), 'foo');
    assert.equal(urlFileName('http://h/dir/app.tar.gz?x=1#frag'), 'app.tar.gz');
    assert.equal(urlFileName('http://h/dir/'), 'dir');
    assert.equal(urlFileName('http://h/'), '__unnamed__');
    assert.equal(urlFileName('http://h'), '__unnamed__');
    assert.equal(urlFileName('http://h/a%20b'), 'a b');
  });
});

describe('build: history times under SOURCE_DATE_EPOCH', () => {
  it('119: new entries take the epoch, base entries keep theirs, created is the epoch', () => {
    const base = ImageState.fromImage(
      {
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: ['sha256:aa'] },
        history: [{ created: '2020-01-01T00:00:00Z', created_by: 'base layer' }],
      } as never,
      [{ digest: 'sha256:aa' as never, size: 1 }],
    );
    const stage = base.clone();
    stage.layers.push({ digest: 'sha256:bb' as never, size: 1, createdAt: Date.now() });
    stage.addHistory('RUN x', true, true);
    stage.addHistory('ENV A=b', false);
    const config = JSON.parse(stage.serialize({ epoch: 1700000000 }).toString()) as {
      created: string;
      history: Array<{ created: string }>;
    };
    assert.deepEqual(
      config.history.map((h) => h.created),
      ['2020-01-01T00:00:00Z', '2023-11-14T22:13:20Z', '2023-11-14T22:13:20Z'],
    );
    assert.equal(config.created, '2023-11-14T22:13:20Z');
    assert.equal(goTime(1700000000.5), '2023-11-14T22:13:20.500Z');
  });
});

describe('build: secrets in progress output', () => {
  it('45: a masked value becomes **** in printed lines and in the kept tail; short values are left alone', () => {
    const lines: string[] = [];
    const printer: ProgressPrinter = {
      start() {},
      status() {},
      log(_id: number, _name: string, line: LogLine) {
        lines.push(line.text);
      },
      end() {},
    };
    const vertex = new BuildProgress(printer).start('RUN x');
    vertex.mask(['s3cr3t-value', 'pw', 'multi\nline-secret']);
    vertex.output('token=s3cr3t-value and pw\nsecond line-secret\n');
    vertex.done();
    assert.deepEqual(lines, ['token=**** and pw', 'second ****']);
    assert.deepEqual(
      vertex.tail.map((l) => l.text),
      lines,
    );
  });
});

describe('build: --output and --secret values (docker buildx syntax)', () => {
  it('issue 12: -o DIR, -o -, type=local|tar|oci|docker|image; a missing dest or an unknown type fails', () => {
    assert.deepEqual(parseOutput('out'), { type: 'local', dest: 'out' });
    assert.deepEqual(parseOutput('-'), { type: 'tar', dest: '-' });
    assert.deepEqual(parseOutput('type=local,dest=/tmp/x'), { type: 'local', dest: '/tmp/x' });
    assert.deepEqual(parseOutput('type=oci,dest=img.tar'), { type: 'oci', dest: 'img.tar' });
    assert.deepEqual(parseOutput('type=docker,dest=-'), { type: 'docker', dest: '-' });
    assert.deepEqual(parseOutput('type=image'), { type: 'image' });
    assert.throws(() => parseOutput('type=tar'), /dest is required/);
    assert.throws(() => parseOutput('type=registry,name=x'), /Cannot use output type registry/);
  });

  it('45: --secret id=..,env=.. reads a variable; id alone the variable of that name; src a file', () => {
    const env = { TOKEN: 'from-env', mysecret: 'by-id' };
    assert.equal(parseSecret('id=a,env=TOKEN', env).value.toString(), 'from-env');
    assert.equal(parseSecret('id=a,env=TOKEN', env).id, 'a');
    assert.equal(parseSecret('id=mysecret', env).value.toString(), 'by-id');
    assert.equal(parseSecret('id=a,type=env,src=TOKEN', env).value.toString(), 'from-env');
    assert.throws(() => parseSecret('id=a,env=UNSET', env), /environment variable UNSET is not set/);
    assert.throws(
      () => parseSecret('id=a,src=/nonexistent/file', env),
      /Cannot read secret a from \/nonexistent\/file/,
    );
    assert.throws(() => parseSecret('id=a,type=socket', env), /type must be file or env/);
    assert.equal(parseSecret('src=/proc/self/cmdline', env).id, 'cmdline');
  });
});
