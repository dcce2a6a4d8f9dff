import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProgress, ProgressRenderer } from '../../../src/cli/progress/progress-renderer.ts';

function sink(tty: boolean): {
  out: { write(text: string): void; isTTY: boolean; columns: number };
  text(): string;
} {
  let text = '';
  return {
    out: {
      write: (chunk: string) => {
        text += chunk;
      },
      isTTY: tty,
      columns: 130,
    },
    text: () => text,
  };
}

describe('progress renderer', () => {
  it("draws Docker's bar", () => {
    assert.equal(
      formatProgress(12_300_000, 45_600_000, 130),
      `[${'='.repeat(13)}>${' '.repeat(37)}]   12.3MB/45.6MB`,
    );
    assert.equal(
      formatProgress(45_600_000, 45_600_000, 130),
      `[==================================================>]   45.6MB/45.6MB`,
    );
    assert.equal(formatProgress(1_000, 2_000, 80), '     1kB/2kB', 'no bar on a narrow terminal');
    assert.equal(formatProgress(5_000, undefined, 130), '     5kB');
  });

  it('prints one line per status and no byte counts when not on a terminal', () => {
    const { out, text } = sink(false);
    const renderer = new ProgressRenderer(out);
    renderer.write({ id: 'latest', status: 'Pulling from library/busybox' });
    renderer.write({ id: 'a1b2c3d4e5f6', status: 'Pulling fs layer' });
    renderer.write({
      id: 'a1b2c3d4e5f6',
      status: 'Downloading',
      progressDetail: { current: 10, total: 100 },
    });
    renderer.write({ id: 'a1b2c3d4e5f6', status: 'Pull complete' });
    renderer.write({ status: 'Digest: sha256:abc' });
    assert.equal(
      text(),
      'latest: Pulling from library/busybox\na1b2c3d4e5f6: Pulling fs layer\na1b2c3d4e5f6: Pull complete\nDigest: sha256:abc\n',
    );
  });

  it('redraws each layer on its own line on a terminal', () => {
    const { out, text } = sink(true);
    const renderer = new ProgressRenderer(out);
    renderer.write({ id: 'aaaaaaaaaaaa', status: 'Pulling fs layer' });
    renderer.write({ id: 'bbbbbbbbbbbb', status: 'Pulling fs layer' });
    renderer.write({ id: 'aaaaaaaaaaaa', status: 'Pull complete' });
    assert.equal(
      text(),
      '\x1b[2K\raaaaaaaaaaaa: Pulling fs layer\n' +
        '\x1b[2K\rbbbbbbbbbbbb: Pulling fs layer\n' +
        '\x1b[2A\x1b[2K\raaaaaaaaaaaa: Pull complete\r\x1b[2B',
    );
  });
});
