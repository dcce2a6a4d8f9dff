// The rows of history and system df, with expected outputs from docker/cli's own tests
// (image/testdata/history-command-success.*.golden, formatter/disk_usage_test.go) and docs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diskUsageFormat, renderDiskUsage } from '../../../../src/cli/format/disk-usage.ts';
import { ListingFormatter } from '../../../../src/cli/format/formatter.ts';
import { HISTORY_HEADER, historyFormat, historyRow } from '../../../../src/cli/format/history-rows.ts';

const now = new Date();

function history(
  items: { Id: string; Created: number; CreatedBy: string; Size: number; Comment: string }[],
  source: string,
  options: { quiet?: boolean; human?: boolean; trunc?: boolean } = {},
): string {
  const human = options.human ?? true;
  const format = historyFormat(source, options.quiet ?? false, human);
  const rows = items.map((item) => historyRow(item, { trunc: options.trunc ?? true, human, now }));
  return new ListingFormatter(format).render(rows, HISTORY_HEADER);
}

describe('history rows (docker/cli history golden files)', () => {
  const justNow = Math.floor(now.getTime() / 1000);
  it('simple', () => {
    assert.equal(
      history(
        [{ Id: '1234567890123456789', Created: justNow, CreatedBy: '', Size: 0, Comment: 'none' }],
        'table',
      ),
      'IMAGE          CREATED                  CREATED BY   SIZE      COMMENT\n' +
        '123456789012   Less than a second ago                0B        none\n',
    );
  });
  it('quiet, and quiet with --no-trunc', () => {
    const items = [{ Id: '1234567890123456789', Created: justNow, CreatedBy: '', Size: 0, Comment: '' }];
    assert.equal(history(items, 'table', { quiet: true }), '123456789012\n');
    assert.equal(history(items, 'table', { quiet: true, trunc: false }), '1234567890123456789\n');
  });
  it('non-human', () => {
    const created = Date.UTC(2017, 0, 1, 12, 0, 3) / 1000;
    const out = history(
      [{ Id: 'abcdef', Created: created, CreatedBy: 'rose', Size: 0, Comment: 'new history item!' }],
      'table',
      { human: false },
    );
    const [header, row] = out.split('\n');
    // 13 spaces after CREATED AT when the local zone is UTC (the golden file), more otherwise
    assert.match(header!, /^IMAGE {5}CREATED AT {13,}CREATED BY {3}SIZE {6}COMMENT$/);
    assert.match(
      row!,
      /^abcdef {4}2017-01-01T\d\d:\d\d:03(Z|[+-]\d\d:\d\d) +rose {9}0 {9}new history item!$/,
    );
  });
  it('cuts CREATED BY to 45 columns and tabs to spaces; N/A before 2000', () => {
    const createdBy =
      '/bin/sh -c #(nop)\tCOPY file:8b8864b3e02a33bbb3b6d2c0e6b2a9e93f5e6a1fd5ab7b37f0f1c8e2dd3c4f7 in / ';
    const out = history(
      [{ Id: '<missing>', Created: 0, CreatedBy: createdBy, Size: 4_261_364, Comment: '' }],
      '{{.ID}}|{{.CreatedSince}}|{{.CreatedBy}}|{{.Size}}',
    );
    assert.equal(out, '<missing>|N/A|/bin/sh -c #(nop) COPY file:8b8864b3e02a33bb…|4.26MB\n');
  });
});

const images = [
  {
    Id: 'sha256:b2789dd875bf0a08e2d6a9b67dd1ba1ba8c2a0c8b79b8f3da6e1a1bd20ea0a60',
    RepoTags: ['my-curl:latest'],
    RepoDigests: [],
    Created: Math.floor(now.getTime() / 1000) - 360,
    Size: 11_000_000,
    SharedSize: 11_000_000,
    Containers: 0,
  },
  {
    Id: 'sha256:4e38e38c8ce0b8d9041a9c4fefe786631d1416225e13b0bfe8cfa2321aec4bba',
    RepoTags: ['alpine:latest', 'alpine:3'],
    RepoDigests: [],
    Created: Math.floor(now.getTime() / 1000) - 9 * 7 * 86400,
    Size: 4_799_000,
    SharedSize: 0,
    Containers: 1,
  },
];

describe('system df', () => {
  const data = { layersSize: 15_799_000, images, containers: [], volumes: [], buildCache: [] };
  it('summary table', () => {
    assert.equal(
      renderDiskUsage(data, diskUsageFormat('table', false), false, now),
      'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n' +
        'Images          2         1         15.8MB    11MB (69%)\n' +
        'Containers      0         0         0B        0B\n' +
        'Local Volumes   0         0         0B        0B\n' +
        'Build Cache     0         0         0B        0B\n',
    );
  });
  it('docs: --format "{{.Type}}: {{.TotalCount}}"', () => {
    assert.equal(
      renderDiskUsage(data, '{{.Type}}: {{.TotalCount}}', false),
      'Images: 2\nContainers: 0\nLocal Volumes: 0\nBuild Cache: 0\n',
    );
  });
  it('counts containers, volumes and build cache as Docker does', () => {
    const out = renderDiskUsage(
      {
        ...data,
        containers: [
          { SizeRw: 212, State: 'exited' },
          { SizeRw: 0, State: 'running' },
        ],
        volumes: [{ UsageData: { Size: 36, RefCount: 2 } }, { UsageData: { Size: 0, RefCount: 0 } }],
        buildCache: [{ Size: 1000, InUse: false, Shared: false }],
      },
      '{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}',
      false,
    );
    assert.equal(
      out,
      'Images 2 1 15.8MB 11MB (69%)\nContainers 2 1 212B 212B (100%)\nLocal Volumes 2 1 36B 0B (0%)\nBuild Cache 1 0 1kB 1kB\n',
    );
  });
  it('-v tables: one row per image, named by its first tag', () => {
    const out = renderDiskUsage(data, 'table', true, now);
    assert.equal(
      out,
      'Images space usage:\n\n' +
        'REPOSITORY   TAG       IMAGE ID       CREATED         SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n' +
        'my-curl      latest    b2789dd875bf   6 minutes ago   11MB      11MB          0B            0\n' +
        'alpine       latest    4e38e38c8ce0   2 months ago    4.8MB     0B            4.799MB       1\n' +
        '\nContainers space usage:\n\n' +
        'CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES\n' +
        '\nLocal Volumes space usage:\n\n' +
        'VOLUME NAME   LINKS     SIZE\n' +
        '\nBuild cache usage: 0B\n\n' +
        'CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n',
    );
  });
  it('-v with a template runs it once over everything, ids untruncated', () => {
    assert.equal(
      renderDiskUsage(data, '{{range .Images}}{{.Repository}}={{.ID}};{{end}}{{len .Containers}}', true, now),
      `my-curl=${images[0]!.Id};alpine=${images[1]!.Id};0`,
    );
  });
});
