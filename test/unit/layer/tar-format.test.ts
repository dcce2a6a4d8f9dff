import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodePaxRecords,
  encodePaxRecords,
  encodeTarHeader,
  TAR_TRAILER,
  type TarHeader,
  tarPadding,
  writeTarHeaderInto,
} from '../../../src/image/layer/tar-format.ts';
import { TarReader } from '../../../src/image/layer/tar-reader.ts';

const base: TarHeader = {
  name: 'file',
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 0,
  mtime: 1_000_000_000,
  linkname: '',
  devmajor: 0,
  devminor: 0,
  xattrs: new Map(),
};

function archive(entries: { header: TarHeader; body?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { header, body } of entries) {
    parts.push(encodeTarHeader({ ...header, size: body?.length ?? 0 }));
    if (body) parts.push(body, tarPadding(body.length));
  }
  parts.push(TAR_TRAILER);
  return Buffer.concat(parts);
}

async function readAll(data: Buffer | Buffer[]): Promise<{ header: TarHeader; body: Buffer }[]> {
  const reader = new TarReader(Array.isArray(data) ? data : [data]);
  const out = [];
  for (let header = await reader.next(); header; header = await reader.next()) {
    const chunks: Buffer[] = [];
    for await (const chunk of reader.body()) chunks.push(Buffer.from(chunk));
    out.push({ header, body: Buffer.concat(chunks) });
  }
  return out;
}

/** A raw 512-byte header block with the given fields, checksummed. */
function rawHeader(fields: { name: string; type: string; size?: number; magic?: string }): Buffer {
  const block = Buffer.alloc(512);
  block.write(fields.name, 0);
  block.write('0000644\0', 100);
  block.write('0000000\0', 108);
  block.write('0000000\0', 116);
  block.write(`${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`, 124);
  block.write('00000000000\0', 136);
  block.write(fields.type, 156);
  if (fields.magic !== undefined) block.write(fields.magic, 257, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

describe('tar format', () => {
  it('round-trips every field, with pax only where ustar cannot say it', async () => {
    const capability = Buffer.from('0100000280040000000000000000000000000000', 'hex');
    const cases: { header: TarHeader; body?: Buffer; pax: boolean }[] = [
      { header: { ...base, name: 'a/b/c.txt' }, body: Buffer.from('hello'), pax: false },
      { header: { ...base, name: `${'p/'.repeat(70)}${'n'.repeat(90)}` }, pax: false },
      { header: { ...base, name: `x/${'n'.repeat(120)}` }, pax: true },
      { header: { ...base, name: 'ünïcødé/ファイル' }, pax: true },
      { header: { ...base, name: 'dir/', type: 'dir', mode: 0o1777 }, pax: false },
      { header: { ...base, name: 'sl', type: 'symlink', linkname: `/${'t'.repeat(150)}` }, pax: true },
      { header: { ...base, name: 'big-ids', uid: 3_000_000, gid: 4_000_000 }, pax: true },
      {
        header: {
          ...base,
          name: 'cap',
          mode: 0o4755,
          xattrs: new Map([['security.capability', capability]]),
        },
        pax: true,
      },
      {
        header: {
          ...base,
          name: 'nul-and-newline',
          xattrs: new Map([['user.x', Buffer.from([0, 10, 0x80, 0xff])]]),
        },
        pax: true,
      },
      { header: { ...base, name: 'dev', type: 'char', devmajor: 259, devminor: 70000 }, pax: false },
      { header: { ...base, name: 'old', mtime: -5 }, pax: true },
    ];
    for (const { header, body, pax } of cases) {
      const encoded = encodeTarHeader({ ...header, size: body?.length ?? 0 });
      assert.equal(encoded.length === 512, !pax, `${header.name}: pax ${pax}`);
      const [read] = await readAll(archive([{ header, ...(body ? { body } : {}) }]));
      assert.deepEqual(read!.header, { ...header, size: body?.length ?? 0 });
      assert.deepEqual(read!.body, body ?? Buffer.alloc(0));
    }
  });

  it('writes a plain header in place with the same bytes, and declines one that needs pax', () => {
    const plain: TarHeader[] = [
      base,
      { ...base, name: 'usr/bin/', type: 'dir', mode: 0o4755, uid: 1000, gid: 100, mtime: 0 },
      { ...base, name: 'a/link', type: 'symlink', linkname: '../b', size: 0 },
      { ...base, name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
      { ...base, name: 'x'.repeat(100), size: 0o77777777777 },
    ];
    for (const header of plain) {
      const target = Buffer.alloc(1536, 0xaa);
      assert.equal(writeTarHeaderInto(header, target, 512), true, header.name);
      assert.ok(target.subarray(512, 1024).equals(encodeTarHeader(header)), header.name);
      assert.equal(target[511], 0xaa); // nothing written outside its block
      assert.equal(target[1024], 0xaa);
    }
    const needsPax: TarHeader[] = [
      { ...base, name: 'é' },
      { ...base, name: `${'d'.repeat(60)}/${'f'.repeat(60)}` },
      { ...base, linkname: 'l'.repeat(101), type: 'symlink' },
      { ...base, uid: 0o10000000 },
      { ...base, mtime: -1 },
      { ...base, xattrs: new Map([['user.a', Buffer.from('b')]]) },
    ];
    for (const header of needsPax) {
      const target = Buffer.alloc(512, 0xaa);
      assert.equal(writeTarHeaderInto(header, target, 0), false, header.name);
      assert.ok(target.equals(Buffer.alloc(512, 0xaa)));
    }
  });

  it('writes pax records sorted, so insertion order never changes the bytes', () => {
    const a = encodePaxRecords(
      new Map([
        ['b', Buffer.from('2')],
        ['a', Buffer.from('1')],
      ]),
    );
    const b = encodePaxRecords(
      new Map([
        ['a', Buffer.from('1')],
        ['b', Buffer.from('2')],
      ]),
    );
    assert.ok(a.equals(b));
    assert.equal(a.toString(), '6 a=1\n6 b=2\n');
    // The length prefix counts its own digits, also across a power of ten.
    const value = Buffer.alloc(93, 'v');
    const record = encodePaxRecords(new Map([['k', value]]));
    assert.equal(record.length, Number(record.toString().split(' ')[0]));
    assert.deepEqual(decodePaxRecords(record).get('k'), value);
  });

  it('reads across chunk boundaries of any size', async () => {
    const data = archive([
      { header: { ...base, name: 'one' }, body: Buffer.alloc(1000, 1) },
      { header: { ...base, name: `two/${'x'.repeat(150)}` }, body: Buffer.alloc(70000, 2) },
      { header: { ...base, name: 'three', type: 'dir' } },
    ]);
    const whole = await readAll(data);
    const pieces: Buffer[] = [];
    for (let i = 0; i < data.length; i += 7) pieces.push(data.subarray(i, i + 7));
    assert.deepEqual(await readAll(pieces), whole);
    assert.deepEqual(
      whole.map((e) => [e.header.name, e.body.length]),
      [
        ['one', 1000],
        [`two/${'x'.repeat(150)}`, 70000],
        ['three', 0],
      ],
    );
  });

  it('skips unread bodies and drains the stream after the end', async () => {
    const data = Buffer.concat([
      archive([
        { header: { ...base, name: 'a' }, body: Buffer.alloc(3000, 1) },
        { header: { ...base, name: 'b' }, body: Buffer.alloc(10, 2) },
      ]),
      Buffer.alloc(10240), // record padding, as GNU tar writes it
    ]);
    let consumed = 0;
    async function* counted() {
      for (let i = 0; i < data.length; i += 1000) {
        const chunk = data.subarray(i, i + 1000);
        consumed += chunk.length;
        yield chunk;
      }
    }
    const reader = new TarReader(counted());
    assert.equal((await reader.next())?.name, 'a');
    assert.equal((await reader.next())?.name, 'b');
    assert.equal(await reader.next(), null);
    assert.equal(consumed, data.length);
  });

  it('reads GNU long names, ignores global pax headers, accepts v7 headers', async () => {
    const longName = `gnu/${'l'.repeat(200)}`;
    const nameBody = Buffer.from(`${longName}\0`);
    const global = encodePaxRecords(new Map([['comment', Buffer.from('ignored')]]));
    const data = Buffer.concat([
      rawHeader({ name: '././@LongLink', type: 'L', size: nameBody.length, magic: 'ustar  \0' }),
      nameBody,
      tarPadding(nameBody.length),
      rawHeader({ name: 'truncated', type: '0', magic: 'ustar  \0' }),
      rawHeader({ name: 'pax_global_header', type: 'g', size: global.length, magic: 'ustar\x0000' }),
      global,
      tarPadding(global.length),
      rawHeader({ name: 'v7file', type: '\0' }),
      rawHeader({ name: 'v7dir/', type: '\0' }),
      TAR_TRAILER,
    ]);
    const read = await readAll(data);
    assert.deepEqual(
      read.map((e) => [e.header.name, e.header.type]),
      [
        [longName, 'file'],
        ['v7file', 'file'],
        ['v7dir/', 'dir'],
      ],
    );
  });

  it('gives header-only entries no body, whatever their size field says', async () => {
    const data = Buffer.concat([
      rawHeader({ name: 'hardlink', type: '1', size: 4096, magic: 'ustar\x0000' }),
      encodeTarHeader({ ...base, name: 'next', size: 3 }),
      Buffer.from('abc'),
      tarPadding(3),
      TAR_TRAILER,
    ]);
    const read = await readAll(data);
    assert.deepEqual(
      read.map((e) => [e.header.name, e.body.toString()]),
      [
        ['hardlink', ''],
        ['next', 'abc'],
      ],
    );
  });

  it('refuses corrupt headers, truncated archives and sparse files', async () => {
    const good = archive([{ header: { ...base, name: 'a' }, body: Buffer.alloc(100, 1) }]);
    const corrupt = Buffer.from(good);
    corrupt[10] = 0x41;
    await assert.rejects(readAll(corrupt), /checksum mismatch/);
    await assert.rejects(readAll(good.subarray(0, 600)), /truncated/);
    await assert.rejects(readAll(good.subarray(0, 300)), /unexpected end/);
    const sparse = Buffer.concat([rawHeader({ name: 'sp', type: 'S', magic: 'ustar  \0' }), TAR_TRAILER]);
    await assert.rejects(readAll(sparse), /unsupported type 'S'/);
  });
});
