// Pure parts of the builder: Go formats in history entries, Go's filepath.Match for COPY
// wildcards, BuildKit's history times, and the printing of Dockerfile lines in errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { printSource } from '../../../src/build/build-error.ts';
import { containsWildcards, goMatch } from '../../../src/build/fs/go-match.ts';
import { goDuration, goList, healthcheckHistory } from '../../../src/build/go-format.ts';
import { ImageState, normalizeHistory } from '../../../src/build/image-state.ts';

describe('build: Go formats', () => {
  it('time.Duration.String', () => {
    assert.equal(goDuration(0n), '0s');
    assert.equal(goDuration(1500n), '1.5µs');
    assert.equal(goDuration(500_000_000n), '500ms');
    assert.equal(goDuration(1_500_000_000n), '1.5s');
    assert.equal(goDuration(90_000_000_000n), '1m30s');
    assert.equal(goDuration(3_600_000_000_000n), '1h0m0s');
    assert.equal(goDuration(-2_000_000_000n), '-2s');
  });

  it('104: HEALTHCHECK and list history strings', () => {
    assert.equal(goList(['/bin/sh', '-c']), '[/bin/sh -c]');
    assert.equal(
      healthcheckHistory({
        test: ['CMD-SHELL', 'curl -f x'],
        interval: 30e9,
        timeout: 0,
        startPeriod: 0,
        startInterval: 0,
        retries: 3,
      }),
      'HEALTHCHECK {Test:[CMD-SHELL curl -f x] Interval:30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}',
    );
  });
});

describe('build: COPY wildcards (Go filepath.Match)', () => {
  it('62: *, ?, classes, escapes; * never crosses /', () => {
    assert.ok(goMatch('*.go', 'a.go'));
    assert.ok(!goMatch('*.go', 'sub/a.go'));
    assert.ok(goMatch('f?.go', 'fb.go'));
    assert.ok(goMatch('[a-c]x', 'bx'));
    assert.ok(!goMatch('[^a-c]x', 'bx'));
    assert.ok(goMatch('\\*', '*'));
    assert.ok(!goMatch('[', '['), 'a malformed pattern matches nothing');
    assert.ok(containsWildcards('a/*.go'));
    assert.ok(!containsWildcards('a/\\*.go'));
  });
});

describe('build: history times (BuildKit normalizeLayersAndHistory)', () => {
  it('layer entries take their layer time; empty ones the first new layer time, then the previous', () => {
    const t = (s: number) => new Date(s * 1000).toISOString();
    const history = normalizeHistory(
      [
        { created: t(1), created_by: 'base' },
        { created_by: 'ENV A=b', empty_layer: true },
        { created_by: 'RUN x' },
        { created_by: 'CMD y', empty_layer: true },
      ],
      [
        { digest: 'sha256:aa', size: 1 },
        { digest: 'sha256:bb', size: 1, createdAt: 5000 },
      ],
    );
    assert.deepEqual(
      history.map((h) => h.created),
      [t(1), t(5), t(5), t(5)],
    );
  });

  it('a cached rebuild serializes to the same bytes (same image id)', () => {
    const make = () => {
      const s = ImageState.scratch({ os: 'linux', architecture: 'amd64' });
      s.layers.push({ digest: 'sha256:cc', size: 1, createdAt: 7000 });
      s.addHistory('COPY . .', true, true);
      s.addHistory('ENV A=b', false);
      return s.serialize().toString();
    };
    assert.equal(make(), make());
    const config = JSON.parse(make()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(config), ['architecture', 'config', 'created', 'history', 'os', 'rootfs']);
  });
});

describe('build: error source lines (errdefs.Source.Print)', () => {
  it('37: marks the instruction lines and pads around them', () => {
    const text = 'FROM busybox\nWORKDIR /a\nRUN exit 3\nCMD x\n';
    assert.equal(
      printSource({ file: 'Dockerfile', text, startLine: 3, endLine: 3 }),
      'Dockerfile:3\n--------------------\n   1 |     FROM busybox\n   2 |     WORKDIR /a\n   3 | >>> RUN exit 3\n   4 |     CMD x\n   5 |     \n--------------------\n',
    );
  });
});
