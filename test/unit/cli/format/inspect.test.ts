// Docker's inspect output (cli/command/inspect): the typed template run with its raw-JSON
// fallback, the JSON array forms, and Go's encoding/json details they rely on.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { CliExit } from '../../../../src/cli/cli-error.ts';
import { parseDockerTemplate } from '../../../../src/cli/format/docker-template-funcs.ts';
import { listingRow } from '../../../../src/cli/format/formatter.ts';
import { goJson } from '../../../../src/cli/format/go-json.ts';
import { GoFloat, GoNil, GoTime, goStruct, NIL_MAP } from '../../../../src/cli/format/go-value.ts';
import { imageInspectView } from '../../../../src/cli/format/image-inspect-view.ts';
import { writeInspect } from '../../../../src/cli/format/inspect-writer.ts';

const busybox = {
  Id: 'sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741',
  RepoTags: ['busybox:latest'],
  RepoDigests: [],
  Parent: '',
  Comment: '',
  Created: '2024-09-26T21:31:42Z',
  DockerVersion: '',
  Author: '',
  Config: {
    Hostname: '',
    User: '',
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    Cmd: ['sh'],
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
  },
  Architecture: 'amd64',
  Os: 'linux',
  Size: 4261550,
  GraphDriver: { Data: null, Name: 'overlayfs' },
  RootFS: {
    Type: 'layers',
    Layers: ['sha256:59654b79daad74c77d2b6e8c9e5a8c2a7e0e5e5b3a0e5e5b3a0e5e5b3a0e5e5b'],
  },
  Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
};

async function inspect(
  refs: string[],
  format: string | undefined,
): Promise<{ out: string; error?: CliExit }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (chunk) => (out += chunk));
  let error: CliExit | undefined;
  try {
    await writeInspect({
      refs,
      format,
      stdout,
      lookup: async (ref) => {
        if (ref !== 'busybox') throw new Error(`No such object: ${ref}`);
        return { raw: busybox, typed: imageInspectView(busybox) };
      },
    });
  } catch (caught) {
    assert.ok(caught instanceof CliExit);
    error = caught;
  }
  return error ? { out, error } : { out };
}

describe('writeInspect', () => {
  it('prints an indented JSON array by default, [] when nothing is found', async () => {
    const { out } = await inspect(['busybox'], undefined);
    assert.equal(out, `${JSON.stringify([busybox], null, 4)}\n`);
    const none = await inspect(['nope'], undefined);
    assert.equal(none.out, '[]\n');
    assert.equal(none.error?.exitCode, 1);
    assert.equal(none.error?.message, 'Error: No such object: nope');
  });

  it('prints a one-line array for --format json', async () => {
    assert.equal(
      (await inspect(['busybox', 'busybox'], 'json')).out,
      `${JSON.stringify([busybox, busybox])}\n`,
    );
  });

  it('runs templates on the typed value first', async () => {
    const format =
      '{{.Config.Cmd}} {{.Config.Entrypoint}} {{.Config.Labels}} {{.GraphDriver.Data}} {{.Metadata.LastTagTime}}';
    assert.equal(
      (await inspect(['busybox'], format)).out,
      '[sh] [] map[] map[] 0001-01-01 00:00:00 +0000 UTC\n',
    );
    // Docker 28's Config is the OCI image config: JSON shows only what is set
    assert.equal(
      (await inspect(['busybox'], '{{json .Config}}')).out,
      '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}\n',
    );
    assert.equal((await inspect(['busybox'], '{{.Config.Labels.x}}')).out, '<no value>\n');
  });

  it("prints the Healthcheck's durations as Go does, and keeps nanoseconds in its JSON", () => {
    const view = imageInspectView({
      ...busybox,
      Config: {
        ...busybox.Config,
        Healthcheck: {
          Test: ['CMD-SHELL', 'true'],
          Interval: 30e9,
          Timeout: 5e9,
          StartPeriod: 1e9,
          Retries: 3,
        },
      },
    });
    const run = (format: string) => parseDockerTemplate(format).execute(view);
    // what the docker CLI 28 prints for an image built with HEALTHCHECK --interval=30s ...
    assert.equal(run('{{.Config.Healthcheck}}'), '{[CMD-SHELL true] 30s 5s 1s 0s 3}');
    assert.equal(
      run('{{.Config.Healthcheck.Interval}} {{printf "%d" .Config.Healthcheck.Timeout}}'),
      '30s 5000000000',
    );
    assert.equal(
      run('{{if eq .Config.Healthcheck.Retries 3}}{{.Config.Healthcheck.StartInterval}}{{end}}'),
      '0s',
    );
    assert.equal(
      run('{{json .Config.Healthcheck}}'),
      '{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Timeout":5000000000,"StartPeriod":1000000000,"Retries":3}',
    );
    assert.equal(parseDockerTemplate('{{.Config.Healthcheck}}').execute(imageInspectView(busybox)), '<nil>');
  });

  it('falls back to the raw JSON, where missing keys are errors', async () => {
    // Hostname is not a field of the typed config, but the raw JSON has it
    assert.equal((await inspect(['busybox'], '[{{.Config.Hostname}}]')).out, '[]\n');
    const missing = await inspect(['busybox'], '{{.Nope}}');
    assert.equal(missing.out, '\n');
    assert.equal(
      missing.error?.message,
      'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"',
    );
  });

  it('exits 64 when the template does not parse', async () => {
    const bad = await inspect(['busybox'], '{{.Id');
    assert.equal(bad.error?.exitCode, 64);
    assert.equal(bad.error?.message, 'template parsing error: template: :1: unclosed action');
    assert.equal(bad.out, '');
  });
});

describe('goJson (encoding/json)', () => {
  it('keeps struct order, sorts Map keys, writes typed nils as null', () => {
    assert.equal(
      goJson({
        b: 1,
        a: new Map([
          ['z', 1],
          ['y', 2],
        ]),
        n: NIL_MAP,
        f: new GoFloat(2),
        s: goStruct('T', { X: 1 }),
      }),
      '{"b":1,"a":{"y":2,"z":1},"n":null,"f":2,"s":{"X":1}}',
    );
  });
  it('escapes HTML only when asked, and always U+2028', () => {
    assert.equal(goJson('<a&b>\u2028'), '"<a&b>\\u2028"');
    assert.equal(goJson('<a&b>', { escapeHtml: true }), '"\\u003ca\\u0026b\\u003e"');
  });
  it('indents like json.MarshalIndent, with empty containers kept short', () => {
    assert.equal(
      goJson({ a: [1, 2], e: [], o: {} }, { indent: '    ' }),
      '{\n    "a": [\n        1,\n        2\n    ],\n    "e": [],\n    "o": {}\n}',
    );
  });
  it('leaves omitempty nils out and keeps a Marshaler text as it is', () => {
    assert.equal(goJson({ a: new GoNil('slice', '[]string', true), b: 1 }), '{"b":1}');
    const row = listingRow('T', { Z: '<none>', A: 'x' });
    assert.equal(goJson(row), '{"A":"x","Z":"\\u003cnone\\u003e"}');
    assert.equal(
      goJson([row], { indent: '  ' }),
      '[\n  {\n    "A": "x",\n    "Z": "\\u003cnone\\u003e"\n  }\n]',
    );
  });
  it('writes times as the text they came from', () => {
    assert.equal(
      goJson({ t: new GoTime('2024-05-01T10:00:00.123456789Z') }),
      '{"t":"2024-05-01T10:00:00.123456789Z"}',
    );
    assert.equal(
      parseDockerTemplate('{{.}}').execute(new GoTime('2024-05-01T10:00:00.120Z')),
      '2024-05-01 10:00:00.12 +0000 UTC',
    );
    assert.equal(
      parseDockerTemplate('{{.}}').execute(new GoTime('2024-05-01T10:00:00+02:00')),
      '2024-05-01 10:00:00 +0200 +0200',
    );
  });
});
