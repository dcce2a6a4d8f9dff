// Docker's listing formatter: expected outputs are those of docker/cli's formatter tests
// (image_test.go, container_test.go) and of the docs.docker.com examples for `docker images
// --format` and `docker ps --format`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FormatError,
  ListingFormatter,
  listingRow,
  templateText,
} from '../../../../src/cli/format/formatter.ts';
import {
  IMAGE_HEADER,
  type ImageSummaryLike,
  imageListFormat,
  imageRows,
} from '../../../../src/cli/format/image-rows.ts';
import { alignColumns } from '../../../../src/cli/format/tab-writer.ts';

const now = new Date();
const dayAgo = Math.floor(now.getTime() / 1000) - 24 * 3600;
const zeroTime = -62135596800;
const digest = 'sha256:cbbf2f9a99b47fc460d422812b6a5adff7dfee951d8fa2e4a98caa0382cfbdbf';

const images: ImageSummaryLike[] = [
  {
    Id: 'imageID1',
    RepoTags: ['image:tag1'],
    RepoDigests: [`image@${digest}`],
    Created: dayAgo,
    Size: 0,
    SharedSize: 0,
    Containers: 0,
  },
  {
    Id: 'imageID2',
    RepoTags: ['image:tag2'],
    RepoDigests: [],
    Created: zeroTime,
    Size: 0,
    SharedSize: 0,
    Containers: 0,
  },
  {
    Id: 'imageID3',
    RepoTags: ['<none>:<none>'],
    RepoDigests: ['<none>@<none>'],
    Created: dayAgo,
    Size: 0,
    SharedSize: 0,
    Containers: 0,
  },
];

/** What `docker images` does with its flags: the format, the rows, the header. */
function listImages(
  source: string,
  options: { quiet?: boolean; digests?: boolean; images?: ImageSummaryLike[] } = {},
): string {
  const format = imageListFormat(source, options.quiet ?? false, options.digests ?? false);
  const rows = imageRows(options.images ?? images, {
    trunc: true,
    digests: options.digests ?? false,
    format,
    now,
  });
  return new ListingFormatter(format).render(rows, IMAGE_HEADER);
}

function errorOf(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FormatError, String(error));
    return error;
  }
  assert.fail('expected a FormatError');
}

describe('docker images formats (docker/cli formatter/image_test.go)', () => {
  it('table', () => {
    assert.equal(
      listImages('table'),
      'REPOSITORY   TAG       IMAGE ID   CREATED        SIZE\n' +
        'image        tag1      imageID1   24 hours ago   0B\n' +
        'image        tag2      imageID2   N/A            0B\n' +
        '<none>       <none>    imageID3   24 hours ago   0B\n',
    );
  });
  it('table {{.Repository}}', () => {
    assert.equal(listImages('table {{.Repository}}'), 'REPOSITORY\nimage\nimage\n<none>\n');
  });
  it('table {{.Repository}} with --digests', () => {
    assert.equal(
      listImages('table {{.Repository}}', { digests: true }),
      `REPOSITORY   DIGEST\nimage        ${digest}\nimage        <none>\n<none>       <none>\n`,
    );
  });
  it('table {{.Repository}} with -q keeps the custom format', () => {
    assert.equal(listImages('table {{.Repository}}', { quiet: true }), 'REPOSITORY\nimage\nimage\n<none>\n');
  });
  it('table {{.Digest}}', () => {
    assert.equal(listImages('table {{.Digest}}', { quiet: true }), `DIGEST\n${digest}\n<none>\n<none>\n`);
  });
  it('table with -q is the ids', () => {
    assert.equal(listImages('table', { quiet: true }), 'imageID1\nimageID2\nimageID3\n');
    assert.equal(listImages('table', { quiet: true, digests: true }), 'imageID1\nimageID2\nimageID3\n');
  });
  it('table with --digests', () => {
    assert.equal(
      listImages('table', { digests: true }),
      'REPOSITORY   TAG       DIGEST                                                                    IMAGE ID   CREATED        SIZE\n' +
        `image        tag1      ${digest}   imageID1   24 hours ago   0B\n` +
        'image        tag2      <none>                                                                    imageID2   N/A            0B\n' +
        '<none>       <none>    <none>                                                                    imageID3   24 hours ago   0B\n',
    );
  });
  it('a custom template has no header', () => {
    assert.equal(listImages('{{.Repository}}'), 'image\nimage\n<none>\n');
    assert.equal(listImages('{{.Repository}}', { digests: true }), 'image\nimage\n<none>\n');
  });
  it('no images: a table still has its header', () => {
    assert.equal(listImages('{{.Repository}}', { images: [] }), '');
    assert.equal(listImages('table {{.Repository}}', { images: [] }), 'REPOSITORY\n');
    assert.equal(listImages('table {{.Repository}}', { images: [], digests: true }), 'REPOSITORY   DIGEST\n');
  });
  it('template errors read as Docker prints them', () => {
    assert.equal(
      errorOf(() => listImages('{{InvalidFunction}}')).message,
      'template parsing error: template: :1: function "InvalidFunction" not defined',
    );
    assert.equal(
      errorOf(() => listImages('{{nil}}')).message,
      'template parsing error: template: :1:2: executing "" at <nil>: nil is not a command',
    );
    const unknown = errorOf(() => listImages('{{.Foo}}'));
    assert.equal(
      unknown.message,
      `template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.imageContext`,
    );
    assert.equal(unknown.exitCode, 1);
  });
});

describe('docs.docker.com docker images --format examples', () => {
  const postgres: ImageSummaryLike[] = [
    {
      Id: 'sha256:77af4d6b9913e693e8d0b4b294fa62ade6054e6b2f1ffb617ac955dd63fb0182',
      RepoTags: [],
      RepoDigests: [],
      Created: dayAgo,
      Size: 1089e6,
      SharedSize: -1,
      Containers: -1,
    },
    {
      Id: 'sha256:746b819f315e6c1e2a0f2c1e0ee7a8b8ab6cbb1c1d9d1bbfc5d39e2dcc0b9a1f',
      RepoTags: ['postgres:9', 'postgres:9.3', 'postgres:latest'],
      RepoDigests: [],
      Created: dayAgo,
      Size: 213.4e6,
      SharedSize: -1,
      Containers: -1,
    },
  ];
  it('"{{.ID}}: {{.Repository}}"', () => {
    assert.equal(
      listImages('{{.ID}}: {{.Repository}}', { images: postgres }),
      '77af4d6b9913: <none>\n746b819f315e: postgres\n746b819f315e: postgres\n746b819f315e: postgres\n',
    );
  });
  it('"table {{.ID}}\\t{{.Repository}}\\t{{.Tag}}" (the shell passes the backslash-t literally)', () => {
    assert.equal(
      listImages('table {{.ID}}\\t{{.Repository}}\\t{{.Tag}}', { images: postgres }),
      'IMAGE ID       REPOSITORY   TAG\n' +
        '77af4d6b9913   <none>       <none>\n' +
        '746b819f315e   postgres     9\n' +
        '746b819f315e   postgres     9.3\n' +
        '746b819f315e   postgres     latest\n',
    );
  });
  it('json: one object per line, keys sorted, <none> escaped', () => {
    const [line, ...rest] = listImages('json', { images: [postgres[1]!] }).split('\n');
    assert.equal(rest.length, 3);
    assert.match(
      line!,
      /^\{"Containers":"N\/A","CreatedAt":"[^"]+","CreatedSince":"24 hours ago","Digest":"\\u003cnone\\u003e","ID":"746b819f315e","Repository":"postgres","SharedSize":"N\/A","Size":"213MB","Tag":"9","UniqueSize":"N\/A","VirtualSize":"213.4MB"\}$/,
    );
  });
  it('VirtualSize: the docker CLI 28 field, Size with 4 significant digits and a SIZE header', () => {
    assert.equal(
      listImages('table {{.Repository}}\t{{.VirtualSize}}', { images: [postgres[1]!] }).split('\n')[0],
      'REPOSITORY   SIZE',
    );
    assert.equal(
      listImages('{{.Size}} {{.VirtualSize}}', { images: [postgres[1]!] }).split('\n')[0],
      '213MB 213.4MB',
    );
  });
  it('the {{json .}} spelling of json gives the same output', () => {
    assert.equal(listImages('{{json .}}', { images: postgres }), listImages('json', { images: postgres }));
  });
});

// The rows of `docker ps` as Docker's ContainerContext makes them, enough to check the table
// rules on its default format (docker/cli formatter/container_test.go).
const psHeader = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  RunningFor: 'CREATED',
  Status: 'STATUS',
  Ports: 'PORTS',
  Names: 'NAMES',
  Size: 'SIZE',
  Labels: 'LABELS',
  Label: (name: string) => name.split('.').pop()!.replace(/[-_]/g, ' '),
};
const psRows = ['foobar_baz', 'foobar_bar'].map((name, i) =>
  listingRow('*formatter.ContainerContext', {
    ID: `containerID${i + 1}`,
    Image: 'ubuntu',
    Command: '""',
    RunningFor: '24 hours ago',
    Status: '',
    Ports: '',
    Names: name,
    Size: '0B',
    Labels: i === 0 ? 'com.docker.swarm.node=ubuntu,com.docker.swarm.storage=ssd' : '',
    Label: (key: string) => (i === 0 && key === 'com.docker.swarm.node' ? 'ubuntu' : ''),
  }),
);
const psTable =
  'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

describe('docker ps table rules (docker/cli formatter/container_test.go)', () => {
  it('default table with empty cells', () => {
    assert.equal(
      new ListingFormatter(psTable).render(psRows, psHeader),
      'CONTAINER ID   IMAGE     COMMAND   CREATED        STATUS    PORTS     NAMES\n' +
        'containerID1   ubuntu    ""        24 hours ago                       foobar_baz\n' +
        'containerID2   ubuntu    ""        24 hours ago                       foobar_bar\n',
    );
  });
  it('default table with --size', () => {
    assert.equal(
      new ListingFormatter(`${psTable}\t{{.Size}}`).render(psRows, psHeader),
      'CONTAINER ID   IMAGE     COMMAND   CREATED        STATUS    PORTS     NAMES        SIZE\n' +
        'containerID1   ubuntu    ""        24 hours ago                       foobar_baz   0B\n' +
        'containerID2   ubuntu    ""        24 hours ago                       foobar_bar   0B\n',
    );
  });
  it('no rows', () => {
    assert.equal(
      new ListingFormatter('table {{.Image}}\t{{.Size}}').render([], psHeader),
      'IMAGE     SIZE\n',
    );
  });
  it('docs: "table {{.ID}}\\t{{.Labels}}"', () => {
    assert.equal(
      new ListingFormatter('table {{.ID}}\\t{{.Labels}}').render(psRows, psHeader),
      'CONTAINER ID   LABELS\n' +
        'containerID1   com.docker.swarm.node=ubuntu,com.docker.swarm.storage=ssd\n' +
        'containerID2   \n',
    );
  });
  it('a method with an argument heads its column with the argument', () => {
    assert.equal(
      new ListingFormatter('table {{.ID}}\t{{.Label "com.docker.swarm.node"}}').render(psRows, psHeader),
      'CONTAINER ID   node\ncontainerID1   ubuntu\ncontainerID2   \n',
    );
  });
  it('docs: "{{.ID}}: {{.Command}}"', () => {
    assert.equal(
      new ListingFormatter('{{.ID}}: {{.Command}}').render(psRows, psHeader),
      'containerID1: ""\ncontainerID2: ""\n',
    );
  });
});

describe('headers', () => {
  it('pass names through the functions Docker swaps in', () => {
    assert.equal(
      new ListingFormatter('table {{.ID | lower}}\t{{upper .Image}}\t{{truncate .Names 3}}').render(
        psRows,
        psHeader,
      ),
      'CONTAINER ID   IMAGE     NAMES\ncontainerid1   UBUNTU    foo\ncontainerid2   UBUNTU    foo\n',
    );
  });
  it('an unknown field heads its column <no value> when there are no rows', () => {
    assert.equal(new ListingFormatter('table {{.Nope}}').render([], psHeader), '<no value>\n');
  });
  it('a header that fails leaves what it wrote (table {{json .}})', () => {
    assert.equal(
      new ListingFormatter('table {{json .Image}}').render([psRows[0]], psHeader),
      'IMAGE\n"ubuntu"\n',
    );
    assert.equal(new ListingFormatter('table x{{json .}}').render([], psHeader), 'x\n');
  });
});

describe('templateText', () => {
  it('pre-processes formats as Docker does', () => {
    assert.equal(templateText('json'), '{{json .}}');
    assert.equal(templateText('table'), '');
    assert.equal(templateText('table  {{.A}}\\t{{.B}} '), '{{.A}}\t{{.B}}');
    assert.equal(templateText('{{.A}}\\n'), '{{.A}}\n');
    assert.equal(templateText('\t{{.A}}'), '\t{{.A}}');
  });
});

describe('alignColumns (text/tabwriter)', () => {
  it('measures each block of lines separately (Go Example_elastic, left-aligned)', () => {
    assert.equal(
      alignColumns('a\tb\tc\naa\tbb\tcc\naaa\t\naaaa\tdddd\teeee\n', {
        minWidth: 0,
        padding: 1,
        padChar: '.',
      }),
      'a....b..c\naa...bb.cc\naaa..\naaaa.dddd.eeee\n',
    );
  });
  it('uses Docker table settings by default and counts wide characters as two columns', () => {
    assert.equal(alignColumns('名前\tX\nab\tY\n'), '名前      X\nab        Y\n');
  });
  it('keeps text without a trailing newline', () => {
    assert.equal(alignColumns('a\tb'), 'a         b');
  });
});
