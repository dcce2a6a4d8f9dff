/**
 * The image listing verbs through the real binary on a temporary root: `images` with its
 * flags, filters and formats, `inspect` / `image inspect`, `history`, `rmi`, `image prune` and
 * `system df`, with Docker's output and exit codes. Images come from small tars the test makes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { wharfBin } from '../../helpers/wharf.ts';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let root = '';
let work = '';

function wharf(args: string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(wharfBin, ['--root', root, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

async function ok(args: string[], input?: string): Promise<string> {
  const result = await wharf(args, input);
  assert.equal(result.code, 0, `wharf ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

async function makeTar(name: string, files: Record<string, string>): Promise<string> {
  const pack = tar.pack();
  for (const [path, content] of Object.entries(files)) pack.entry({ name: path, mode: 0o644 }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  const path = join(work, name);
  await writeFile(path, Buffer.concat(chunks));
  return path;
}

async function importImage(tarPath: string, ...args: string[]): Promise<string> {
  return (await ok(['import', ...args, tarPath])).trim();
}

const short = (id: string) => id.slice('sha256:'.length, 'sha256:'.length + 12);

describe('image verbs', () => {
  let alpha = '';
  let beta = '';
  let dangling = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'wharf-image-verbs-'));
    root = join(work, 'root');
    const a = await makeTar('a.tar', { 'etc/alpha': 'alpha\n' });
    const b = await makeTar('b.tar', { 'etc/beta': 'beta beta beta\n', 'etc/more': 'x'.repeat(3000) });
    const c = await makeTar('c.tar', { 'etc/gamma': 'gamma\n' });
    // Oldest first: dangling, then alpha (tagged twice), then beta (with a label).
    dangling = (await ok(['import', c])).trim();
    alpha = (await ok(['import', '-c', 'CMD ["sh"]', '-c', 'ENV A=1', a, 'example/alpha:1.0'])).trim();
    await ok(['tag', 'example/alpha:1.0', 'example/alpha:latest']);
    beta = await importImage(
      b,
      '-c',
      'LABEL com.example.version=2',
      '-c',
      'ENTRYPOINT ["/bin/beta"]',
      '-m',
      'a <comment> & more',
    );
    await ok(['tag', beta, 'localhost:5000/team/beta:edge']);
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('images', () => {
    it('lists newest first in the default table', async () => {
      const out = await ok(['images']);
      const lines = out.split('\n');
      assert.match(lines[0]!, /^REPOSITORY {17}TAG {7}IMAGE ID {7}CREATED {3,}SIZE$/);
      const rows = lines.slice(1, -1).map((line) => line.split(/ {3,}/));
      assert.deepEqual(
        rows.map((r) => [r[0], r[1], r[2]]),
        [
          ['localhost:5000/team/beta', 'edge', short(beta)],
          ['example/alpha', '1.0', short(alpha)],
          ['example/alpha', 'latest', short(alpha)],
          ['<none>', '<none>', short(dangling)],
        ],
      );
      for (const row of rows) {
        assert.match(row[3]!, /^(Less than a second|\d+ seconds?) ago$/);
        assert.match(row[4]!, /^\d+(\.\d+)?kB$/);
      }
      // columns line up: each column starts at the same offset on every line
      const starts = (line: string) => [...line.matchAll(/(?<= {3})\S/g)].map((m) => m.index);
      const header = starts(lines[0]!);
      for (const line of lines.slice(1, -1)) assert.deepEqual(starts(line).slice(0, 4), header.slice(0, 4));
    });

    it('-q prints one short id per row, --no-trunc full ids', async () => {
      assert.equal(await ok(['images', '-q']), `${[beta, alpha, alpha, dangling].map(short).join('\n')}\n`);
      assert.equal(
        await ok(['images', '-q', '--no-trunc']),
        `${[beta, alpha, alpha, dangling].join('\n')}\n`,
      );
    });

    it('takes Go templates with the Docker functions', async () => {
      assert.equal(
        await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']),
        'localhost:5000/team/beta:edge\nexample/alpha:1.0\nexample/alpha:latest\n<none>:<none>\n',
      );
      assert.equal(
        await ok(['image', 'ls', '--format', 'table {{.ID}}\\t{{.Repository | upper}}', 'example/alpha']),
        `IMAGE ID       REPOSITORY\n${short(alpha)}   EXAMPLE/ALPHA\n${short(alpha)}   EXAMPLE/ALPHA\n`,
      );
      assert.equal(
        await ok(['images', '--format', '{{if eq .Tag "edge"}}{{printf "%-8s|" .Tag}}{{end}}']),
        'edge    |\n\n\n\n',
      );
    });

    it('--format json prints one object per image with Docker fields', async () => {
      const lines = (await ok(['images', '--format', 'json', 'example/alpha:1.0'])).trim().split('\n');
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /"Digest":"\\u003cnone\\u003e"/);
      const object = JSON.parse(lines[0]!);
      assert.deepEqual(Object.keys(object), [
        'Containers',
        'CreatedAt',
        'CreatedSince',
        'Digest',
        'ID',
        'Repository',
        'SharedSize',
        'Size',
        'Tag',
        'UniqueSize',
        'VirtualSize',
      ]);
      assert.equal(object.ID, short(alpha));
      assert.equal(object.Repository, 'example/alpha');
      assert.equal(object.Tag, '1.0');
      assert.equal(object.Containers, 'N/A');
      assert.match(object.CreatedAt, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
    });

    it('--digests adds a DIGEST column', async () => {
      const out = await ok(['images', '--digests', 'example/alpha']);
      assert.match(out.split('\n')[0]!, /^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$/);
      assert.match(out.split('\n')[1]!, /^example\/alpha +1\.0 +<none> +\w{12} /);
    });

    it('filters: dangling, reference, label, before, since', async () => {
      const ids = (filter: string[]) => ok(['images', '--format', '{{.Repository}}:{{.Tag}}', ...filter]);
      assert.equal(await ids(['-f', 'dangling=true']), '<none>:<none>\n');
      assert.equal(
        await ids(['--filter', 'reference=example/*']),
        'example/alpha:1.0\nexample/alpha:latest\n',
      );
      assert.equal(
        await ids([
          '--filter',
          'reference=example/alpha:1.0',
          '--filter',
          'reference=localhost:5000/team/beta',
        ]),
        'localhost:5000/team/beta:edge\nexample/alpha:1.0\n',
      );
      assert.equal(await ids(['--filter', 'label=com.example.version']), 'localhost:5000/team/beta:edge\n');
      assert.equal(await ids(['--filter', 'label=com.example.version=3']), '');
      assert.equal(await ids(['--filter', `before=${short(alpha)}`]), '<none>:<none>\n');
      assert.equal(await ids(['--filter', 'since=example/alpha:1.0']), 'localhost:5000/team/beta:edge\n');
    });

    it('a table with no match still has its header', async () => {
      assert.equal(
        await ok(['images', 'nothing/here']),
        'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n',
      );
    });

    it('reports template errors as Docker does, exit 1', async () => {
      const unknown = await wharf(['images', '--format', '{{.Foo}}']);
      assert.equal(unknown.code, 1);
      assert.equal(unknown.stdout, '');
      assert.equal(
        unknown.stderr,
        `template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.imageContext\n`,
      );
      const bad = await wharf(['images', '--format', '{{.Repository']);
      assert.equal(bad.code, 1);
      assert.equal(bad.stderr, 'template parsing error: template: :1: unclosed action\n');
      const filter = await wharf(['images', '--filter', 'dangling']);
      assert.equal(filter.code, 1);
      assert.match(filter.stderr, /bad format of filter \(expected name=value\)/);
      assert.doesNotMatch(filter.stderr + unknown.stderr, /at .*\.m?js:\d+/);
    });
  });

  describe('inspect', () => {
    it('prints a JSON array indented by four spaces', async () => {
      const out = await ok(['image', 'inspect', 'example/alpha:1.0']);
      assert.match(out, /^\[\n {4}\{\n {8}"Id": "sha256:/);
      const [image] = JSON.parse(out);
      assert.equal(image.Id, alpha);
      assert.deepEqual(image.RepoTags, ['example/alpha:1.0', 'example/alpha:latest']);
      assert.deepEqual(image.Config.Cmd, ['sh']);
      assert.equal(image.RootFS.Type, 'layers');
      // the daemon's escaping of <, > and &
      assert.match(await ok(['inspect', beta]), /"Comment": "a \\u003ccomment\\u003e \\u0026 more"/);
    });

    it('--format json is the same array on one line', async () => {
      const out = await ok(['inspect', '--format', 'json', 'example/alpha:1.0', beta]);
      assert.equal(out.split('\n').length, 2);
      assert.deepEqual(
        JSON.parse(out).map((i: { Id: string }) => i.Id),
        [alpha, beta],
      );
    });

    it('runs templates on Docker typed values', async () => {
      const format =
        '{{.Id}}|{{.Config.Cmd}}|{{.Config.Entrypoint}}|{{.Config.Env}}|{{json .Config.Labels}}|{{.Config.Labels}}|{{len .RootFS.Layers}}|{{.Os}}/{{.Architecture}}';
      assert.equal(
        await ok(['inspect', '-f', format, 'example/alpha']),
        `${alpha}|[sh]|[]|[A=1]|null|map[]|1|linux/amd64\n`,
      );
      assert.equal(
        await ok([
          'image',
          'inspect',
          '-f',
          '{{index .Config.Labels "com.example.version"}} {{.Config.Entrypoint}} {{.Comment}}',
          beta,
        ]),
        '2 [/bin/beta] a <comment> & more\n',
      );
      assert.equal(
        await ok([
          'inspect',
          '--format',
          '{{range .RepoTags}}{{.}} {{end}}',
          'example/alpha:latest',
          'localhost:5000/team/beta:edge',
        ]),
        'example/alpha:1.0 example/alpha:latest \nlocalhost:5000/team/beta:edge \n',
      );
      assert.equal(await ok(['inspect', '-f', '{{.Config.Labels.missing}}', beta]), '<no value>\n');
    });

    it('an unknown field fails on the raw JSON (missingkey=error), exit 1', async () => {
      const result = await wharf(['inspect', '-f', '{{.Nope}}', 'example/alpha']);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '\n');
      assert.equal(
        result.stderr,
        'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"\n',
      );
    });

    it('a template that does not parse exits 64', async () => {
      const result = await wharf(['inspect', '-f', '{{.Id', 'example/alpha']);
      assert.equal(result.code, 64);
      assert.equal(result.stderr, 'template parsing error: template: :1: unclosed action\n');
    });

    it('reports missing objects after printing the others', async () => {
      const both = await wharf(['inspect', '-f', '{{.Id}}', 'nosuch', 'example/alpha']);
      assert.equal(both.code, 1);
      assert.equal(both.stdout, `${alpha}\n`);
      assert.equal(both.stderr, 'Error: No such object: nosuch\n');
      const none = await wharf(['image', 'inspect', 'nosuch']);
      assert.equal(none.code, 1);
      assert.equal(none.stdout, '[]\n');
      assert.match(none.stderr, /^Error: No such image: nosuch/);
      const badType = await wharf(['inspect', '--type', 'bogus', 'x']);
      assert.equal(badType.code, 1);
      assert.match(badType.stderr, /^unknown type: "bogus": must be one of "config", "container", "image"/);
    });
  });

  describe('history', () => {
    it('prints the table, -q, --format json, and -H=false', async () => {
      const out = await ok(['history', 'example/alpha:1.0']);
      const [header, row] = out.split('\n');
      assert.match(header!, /^IMAGE {10}CREATED {2,}CREATED BY {3}SIZE {6}COMMENT$/);
      assert.match(
        row!,
        new RegExp(
          `^${short(alpha)} {3}(Less than a second|\\d+ seconds?) ago +\\d+(\\.\\d+)?kB +Imported from -$`,
        ),
      );
      assert.equal(await ok(['image', 'history', '-q', 'example/alpha:1.0']), `${short(alpha)}\n`);
      const json = JSON.parse(await ok(['history', '--format', 'json', beta]));
      assert.deepEqual(Object.keys(json), [
        'Comment',
        'CreatedAt',
        'CreatedBy',
        'CreatedSince',
        'ID',
        'Size',
      ]);
      assert.equal(json.Comment, 'a <comment> & more');
      const raw = await ok(['history', '-H=false', '--format', '{{.CreatedSince}} {{.Size}}', beta]);
      assert.match(raw, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) \d+\n$/);
      assert.equal(await ok(['history', '--human=false', '--no-trunc', '-q', beta]), `${beta}\n`);
      for (const flag of ['-H=maybe', '--human=maybe']) {
        const bad = await wharf(['history', flag, beta]);
        assert.equal(bad.code, 125);
        assert.equal(
          bad.stderr,
          'invalid argument "maybe" for "-H, --human" flag: strconv.ParseBool: parsing "maybe": invalid syntax\n',
        );
      }
    });
  });

  describe('system df', () => {
    it('summarises images, containers, volumes and build cache', async () => {
      const out = await ok(['system', 'df']);
      const lines = out.split('\n');
      assert.equal(lines[0], 'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE');
      assert.match(lines[1]!, /^Images {10}3 {9}0 {9}\S+kB +\S+kB \(100%\)$/);
      assert.match(lines[2]!, /^Containers {6}0 {9}0 {9}0B +0B$/);
      assert.match(lines[3]!, /^Local Volumes {3}0 {9}0 {9}0B +0B$/);
      assert.match(lines[4]!, /^Build Cache {5}0 {9}0 {9}0B +0B$/);
      const json = (await ok(['system', 'df', '--format', 'json']))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        json.map((row) => [row.Type, row.TotalCount]),
        [
          ['Images', '3'],
          ['Containers', '0'],
          ['Local Volumes', '0'],
          ['Build Cache', '0'],
        ],
      );
      assert.equal(
        await ok(['system', 'df', '--format', '{{.Type}}: {{.TotalCount}}']),
        'Images: 3\nContainers: 0\nLocal Volumes: 0\nBuild Cache: 0\n',
      );
    });

    it('-v lists every image, then the other kinds', async () => {
      const out = await ok(['system', 'df', '-v']);
      assert.match(
        out,
        /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/,
      );
      assert.match(out, /\nlocalhost:5000\/team\/beta +edge +\w{12} /);
      assert.match(
        out,
        /\n\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/,
      );
      assert.match(out, /\n\nBuild cache usage: 0B\n\nCACHE ID +CACHE TYPE/);
    });
  });

  describe('save and import errors', () => {
    it("save -o checks the path first, as the docker CLI's atomic writer does, and writes mode 0600", async () => {
      const missing = await wharf(['save', '-o', join(work, 'no-such-dir', 'x.tar'), 'example/alpha:1.0']);
      assert.equal(missing.code, 1);
      assert.equal(
        missing.stderr,
        `Error: Cannot save: invalid output path: stat ${join(work, 'no-such-dir')}: no such file or directory\n`,
      );
      const dir = await wharf(['save', '-o', work, 'example/alpha:1.0']);
      assert.equal(dir.code, 1);
      assert.equal(dir.stderr, 'Error: Cannot save: cannot write to a directory\n');
      const file = join(work, 'saved.tar');
      await ok(['save', '-o', file, 'example/alpha:1.0']);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    });

    it('import from a URL that does not answer says why, not "fetch failed"', async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise((resolve) => server.close(resolve));
      const r = await wharf(['import', `http://127.0.0.1:${port}/x.tar`]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `Error: Cannot import from http://127.0.0.1:${port}/x.tar: connect ECONNREFUSED 127.0.0.1:${port}\n`,
      );
    });
  });

  describe('rmi and image prune (last: they remove images)', () => {
    it('rmi untags, then deletes with the last name', async () => {
      assert.equal(await ok(['rmi', 'example/alpha:latest']), 'Untagged: example/alpha:latest\n');
      assert.equal(
        await ok(['image', 'rm', 'example/alpha:1.0']),
        `Untagged: example/alpha:1.0\nDeleted: ${alpha}\n`,
      );
    });

    it('rmi reports what it cannot find: exit 1, or 0 with -f', async () => {
      const missing = await wharf(['rmi', 'nosuch', 'localhost:5000/team/beta:edge']);
      assert.equal(missing.code, 1);
      assert.equal(missing.stdout, `Untagged: localhost:5000/team/beta:edge\nDeleted: ${beta}\n`);
      assert.match(missing.stderr, /^Error: No such image: nosuch/);
      const forced = await wharf(['rmi', '-f', 'nosuch']);
      assert.equal(forced.code, 0);
      assert.match(forced.stderr, /^Error: No such image: nosuch/);
    });

    it('image prune asks first and does nothing on "n"', async () => {
      const declined = await wharf(['image', 'prune'], 'n\n');
      assert.equal(declined.code, 0);
      assert.equal(
        declined.stdout,
        'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ',
      );
      assert.equal(await ok(['images', '-q']), `${short(dangling)}\n`);
    });

    it('image prune removes dangling images and says how much space it freed', async () => {
      const out = await ok(['image', 'prune'], 'y\n');
      assert.match(
        out,
        /^WARNING! This will remove all dangling images.\nAre you sure you want to continue\? \[y\/N\] Deleted Images:\n(deleted: sha256:\w{64}\n)+\nTotal reclaimed space: \d+(\.\d+)?kB\n$/,
      );
      assert.match(out, new RegExp(`deleted: ${dangling}`));
      assert.equal(await ok(['image', 'prune', '-f']), 'Total reclaimed space: 0B\n');
      assert.equal(await ok(['images', '-q']), '');
    });
  });
});
