// Go text/template semantics: each expected output or error is what Go's text/template (with
// Docker's functions, as `docker ... --format` runs it) produces for the same template and data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDockerTemplate } from '../../../../src/cli/format/docker-template-funcs.ts';
import {
  GoTemplate,
  type MissingKey,
  TemplateExecError,
  TemplateParseError,
} from '../../../../src/cli/format/go-template.ts';
import { goStruct, NIL_MAP, NIL_SLICE } from '../../../../src/cli/format/go-value.ts';

function run(text: string, data: unknown, missingKey: MissingKey = 'default'): string {
  return parseDockerTemplate(text).execute(data, { missingKey });
}

function failure(text: string, data: unknown, missingKey: MissingKey = 'default'): string {
  try {
    run(text, data, missingKey);
  } catch (error) {
    assert.ok(error instanceof TemplateExecError || error instanceof TemplateParseError, String(error));
    return error.message;
  }
  assert.fail(`expected ${text} to fail`);
}

const container = {
  Name: '/web',
  State: { Status: 'running', Running: true, Pid: 4242 },
  Config: {
    Env: ['PATH=/usr/bin', 'LANG=C'],
    Labels: { 'com.example.vendor': 'ACME', version: '1.0' },
    Cmd: ['sh'],
    Entrypoint: NIL_SLICE,
    ExposedPorts: { '80/tcp': goStruct('struct {}', {}) },
  },
  NetworkSettings: {
    Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null },
    Networks: { bridge: { IPAddress: '172.17.0.2', MacAddress: '02:42:ac:11:00:02' } },
  },
  Args: ['-g', 'daemon off;'],
  Mounts: [],
  SizeRw: 8192,
};

describe('fields, maps and printing', () => {
  const cases: [string, string][] = [
    ['{{.Name}}', '/web'],
    ['{{.State.Status}}', 'running'],
    ['{{ .State.Pid }}', '4242'],
    ['{{.Config.Env}}', '[PATH=/usr/bin LANG=C]'],
    ['{{.Config.Labels}}', 'map[com.example.vendor:ACME version:1.0]'],
    ['{{.Config.Entrypoint}} {{.Config.Cmd}}', '[] [sh]'],
    ['{{.Config.ExposedPorts}}', 'map[80/tcp:{}]'],
    ['{{.Missing}}', '<no value>'],
    ['{{.Missing.Deeper}}', '<no value>'],
    ['{{.NetworkSettings.Ports}}', 'map[443/tcp:<nil> 80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]'],
    ['{{.SizeRw}}', '8192'],
    ['{{.State.Running}}', 'true'],
    [
      '{{.}}',
      'map[Args:[-g daemon off;] Config:map[Cmd:[sh] Entrypoint:[] Env:[PATH=/usr/bin LANG=C] ExposedPorts:map[80/tcp:{}] Labels:map[com.example.vendor:ACME version:1.0]] Mounts:[] Name:/web NetworkSettings:map[Networks:map[bridge:map[IPAddress:172.17.0.2 MacAddress:02:42:ac:11:00:02]] Ports:map[443/tcp:<nil> 80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]] SizeRw:8192 State:map[Pid:4242 Running:true Status:running]]',
    ],
  ];
  for (const [text, expected] of cases) {
    it(text, () => assert.equal(run(text, container), expected));
  }
  it('prints a typed nil map as map[] and a missing key of it as <no value>', () => {
    assert.equal(run('{{.M}} {{.M.x}}', { M: NIL_MAP }), 'map[] <no value>');
  });
});

describe('docs.docker.com docker inspect --format examples', () => {
  const cases: [string, string][] = [
    ['{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', '172.17.0.2'],
    ['{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}', '02:42:ac:11:00:02'],
    [
      '{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{with $conf}}{{(index . 0).HostPort}}{{else}}none{{end}} {{end}}',
      ' 443/tcp -> none  80/tcp -> 8080 ',
    ],
    ['{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', '8080'],
    ['{{json .Config.Labels}}', '{"com.example.vendor":"ACME","version":"1.0"}'],
    ['{{json .Mounts}}', '[]'],
    ['{{join .Args " , "}}', '-g , daemon off;'],
    ['{{lower .Name}} {{upper .Name}} {{title "web server"}}', '/web /WEB Web Server'],
    ['{{split "busybox:latest" ":"}}', '[busybox latest]'],
    ['{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}', '172.17.0.2\n'],
    ['{{index .Config.Labels "com.example.vendor"}}', 'ACME'],
    ['{{index .Config.Labels "absent"}}', ''],
    ['{{ index (index .Config.Env) 0 }}', 'PATH=/usr/bin'],
    [
      'Container {{ .Name }} listens on {{ range $index, $elem := .Config.ExposedPorts }}{{ $index }}{{ end }}',
      'Container /web listens on 80/tcp',
    ],
  ];
  for (const [text, expected] of cases) {
    it(text, () => assert.equal(run(text, container), expected));
  }
});

describe('actions', () => {
  const cases: [string, unknown, string][] = [
    ['{{if .A}}yes{{else}}no{{end}}', { A: '' }, 'no'],
    ['{{if .A}}yes{{else}}no{{end}}', { A: [0] }, 'yes'],
    ['{{if eq .N 1}}one{{else if eq .N 2}}two{{else}}many{{end}}', { N: 2 }, 'two'],
    ['{{if and .A .B}}both{{end}}{{if or .A .B}}|either{{end}}', { A: 1, B: 0 }, '|either'],
    ['{{if not .A}}empty{{end}}', { A: {} }, 'empty'],
    ['{{with .S}}<{{.}}>{{else}}none{{end}}', { S: 'x' }, '<x>'],
    ['{{with .S}}<{{.}}>{{else with .T}}[{{.}}]{{else}}none{{end}}', { S: '', T: 't' }, '[t]'],
    ['{{range .}}({{.}}){{end}}', ['a', 'b'], '(a)(b)'],
    ['{{range $i, $v := .}}{{$i}}={{$v}};{{end}}', ['a', 'b'], '0=a;1=b;'],
    ['{{range $v := .}}{{$v}}{{end}}', ['a', 'b'], 'ab'],
    ['{{range $k, $v := .}}{{$k}}={{$v}} {{end}}', { b: 2, a: 1, c: 3 }, 'a=1 b=2 c=3 '],
    ['{{range .}}x{{else}}empty{{end}}', [], 'empty'],
    ['{{range .}}x{{else}}empty{{end}}', null, 'empty'],
    ['{{range .}}x{{else}}empty{{end}}', NIL_SLICE, 'empty'],
    ['{{range 3}}{{.}}{{end}}', null, '012'],
    [
      '{{range .}}{{if eq . 3}}{{break}}{{end}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}',
      [0, 1, 2, 3, 4],
      '02',
    ],
    ['{{$x := "a"}}{{range .}}{{$x = .}}{{end}}{{$x}}', ['b', 'c'], 'c'],
    ['{{$}}{{range .}}{{$}}{{end}}', [1, 2], '[1 2][1 2][1 2]'],
    ['{{.A | printf "%s-%s" "x"}}', { A: 'y' }, 'x-y'],
    ['{{"abc" | len | printf "%d chars"}}', null, '3 chars'],
    ['{{(len .L) | eq 2}}', { L: [1, 2] }, 'true'],
    ['{{define "T"}}[{{.}}]{{end}}{{template "T" .A}}{{template "T"}}', { A: 1 }, '[1][<no value>]'],
    ['{{block "B" .}}<{{.}}>{{end}}', 'v', '<v>'],
  ];
  for (const [text, data, expected] of cases) {
    it(text, () => assert.equal(run(text, data), expected));
  }
});

describe('literals, comments and trim markers', () => {
  const cases: [string, string][] = [
    ['{{"a\\tb"}}|{{`raw\\t`}}', 'a\tb|raw\\t'],
    ["{{'a'}} {{0x1F}} {{0o17}} {{0b101}} {{1_000}} {{-5}}", '97 31 15 5 1000 -5'],
    ['{{1.5}} {{1e3}} {{1.0}} {{.5}}', '1.5 1000 1 0.5'],
    ['{{true}} {{false}}', 'true false'],
    ['a {{- "b" -}} c', 'abc'],
    ['a  \n {{- /* comment */ -}} \n  b', 'ab'],
    ['a{{/* a\nmultiline comment */}}b', 'ab'],
    ['{{- 3}}', '3'],
    ['{{3 -}} x', '3x'],
    ['{{-3}}', '-3'],
    ['x\n{{- "y"}}\n', 'xy\n'],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => assert.equal(run(text, {}), expected));
  }
});

describe('functions', () => {
  const cases: [string, unknown, string][] = [
    ['{{printf "%-8s|%4d|%q" .S .N .S}}', { S: 'ab', N: 7 }, 'ab      |   7|"ab"'],
    ['{{printf "%v %v" .L .M}}', { L: [1, 2], M: { k: 'v' } }, '[1 2] map[k:v]'],
    ['{{print "a" 1 2 "b"}}', null, 'a1 2b'],
    ['{{print .Missing}}', {}, '<no value>'],
    ['{{println "a" 1}}', null, 'a 1\n'],
    ['{{len "héllo"}} {{len .L}} {{len .M}}', { L: [1, 2, 3], M: { a: 1 } }, '6 3 1'],
    [
      '{{index .L 1}} {{index .M "k"}} {{index .N 0 1}}',
      { L: ['a', 'b'], M: { k: 'v' }, N: [['x', 'y']] },
      'b v y',
    ],
    ['{{index "abc" 1}}', null, '98'],
    ['{{slice .L 1}} {{slice .L 1 2}} {{slice "hello" 1 3}}', { L: [1, 2, 3] }, '[2 3] [2] el'],
    [
      '{{eq .A "x" "y"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}',
      { A: 'y' },
      'true true true true true false',
    ],
    ['{{eq .Missing "x"}}', {}, 'false'],
    ['{{and 1 0 2}} {{and 1 2}} {{or 0 "" "z"}} {{or 0 ""}}', null, '0 2 z '],
    ['{{or .A (index .Missing 0)}}', { A: 'short-circuit' }, 'short-circuit'],
    ['{{html "<a href=\\"x\\">&</a>"}}', null, '&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;'],
    ['{{js "it\'s <b>"}}', null, "it\\'s \\u003Cb\\u003E"],
    ['{{urlquery "a b&c=d/é"}}', null, 'a+b%26c%3Dd%2F%C3%A9'],
    [
      '{{json .}}',
      { s: '<&>', n: 1.5, l: [true, null], e: {} },
      '{"s":"<&>","n":1.5,"l":[true,null],"e":{}}',
    ],
    ['{{json .L}} {{json .M}}', { L: NIL_SLICE, M: NIL_MAP }, 'null null'],
    [
      '{{join .L ","}} {{join .M ","}} {{join .N ","}}',
      { L: [1, 'a'], M: { b: 'y', a: 'x' }, N: null },
      '1,a x,y ',
    ],
    [
      '{{truncate .S 3}}|{{truncate .S 10}}|{{pad .S 1 2}}|{{pad "" 1 1}}|',
      { S: 'abcdef' },
      'abc|abcdef| abcdef  ||',
    ],
    ['{{title "hello wide-world_x"}}', null, 'Hello Wide-World_x'],
    ['{{.Greet "you"}}', { Greet: (who: string) => `hi ${who}` }, 'hi you'],
  ];
  for (const [text, data, expected] of cases) {
    it(text, () => assert.equal(run(text, data), expected));
  }
});

describe('errors, as Go words them', () => {
  const row = goStruct('*formatter.imageContext', { ID: 'abc', Repository: 'busybox' });
  const cases: [string, unknown, string, MissingKey?][] = [
    [
      '{{.Foo}}',
      row,
      `template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.imageContext`,
    ],
    ['{{nil}}', row, 'template: :1:2: executing "" at <nil>: nil is not a command'],
    ['{{InvalidFunction}}', row, 'template: :1: function "InvalidFunction" not defined'],
    ['{{.Foo}}', {}, 'template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"', 'error'],
    [
      '{{.A.B}}',
      { A: null },
      'template: :1:2: executing "" at <.A.B>: nil pointer evaluating interface {}.B',
    ],
    ['{{.ID.X}}', row, 'template: :1:2: executing "" at <.ID.X>: can\'t evaluate field X in type string'],
    ['{{.Foo', {}, 'template: :1: unclosed action'],
    ['{{.Foo}', {}, 'template: :1: unexpected "}" in operand'],
    ['{{if .A}}x', {}, 'template: :1: unexpected EOF'],
    ['{{end}}', {}, 'template: :1: unexpected {{end}}'],
    ['{{else}}', {}, 'template: :1: unexpected {{else}}'],
    ['{{range .}}{{end}}{{break}}', [], 'template: :1: {{break}} outside {{range}}'],
    ['{{$x}}', {}, 'template: :1: undefined variable "$x"'],
    ['{{"abc}}', {}, 'template: :1: unterminated quoted string'],
    ['{{/* x }}', {}, 'template: :1: unclosed comment'],
    ['{{/* x */ }}', {}, 'template: :1: comment ends before closing delimiter'],
    ['{{ }}', {}, 'template: :1: missing value for command'],
    ['{{.A | 3}}', {}, 'template: :1: non executable command in pipeline stage 2'],
    ['{{3x}}', {}, 'template: :1: bad number syntax: "3x"'],
    ['a\nb{{.X.Y}}', { X: 1 }, `template: :2:3: executing "" at <.X.Y>: can't evaluate field Y in type int`],
    [
      '{{index .L 5}}',
      { L: [1] },
      'template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5',
    ],
    [
      '{{index .M 1}}',
      { M: { a: 'b' } },
      'template: :1:2: executing "" at <index .M 1>: error calling index: value has type int; should be string',
    ],
    ['{{len 3}}', {}, 'template: :1:2: executing "" at <len 3>: error calling len: len of type int'],
    ['{{lower 1}}', {}, 'template: :1:8: executing "" at <1>: expected string; found 1'],
    [
      '{{lower .N}}',
      { N: 1 },
      'template: :1:8: executing "" at <.N>: wrong type for value; expected string; got int',
    ],
    ['{{truncate "abc" "x"}}', {}, 'template: :1:17: executing "" at <"x">: expected integer; found "x"'],
    [
      '{{lower}}',
      {},
      'template: :1:2: executing "" at <lower>: wrong number of args for lower: want 1 got 0',
    ],
    [
      '{{eq "a" 1}}',
      {},
      'template: :1:2: executing "" at <eq "a" 1>: error calling eq: incompatible types for comparison',
    ],
    [
      '{{lt true false}}',
      {},
      'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison',
    ],
    ['{{range .}}x{{end}}', 'str', `template: :1:8: executing "" at <.>: range can't iterate over str`],
    ['{{.X 1}}', { X: 'v' }, 'template: :1:2: executing "" at <.X>: X is not a method but has arguments'],
    ['{{"a" 1}}', {}, 'template: :1:2: executing "" at <"a">: can\'t give argument to non-function "a"'],
    [
      '{{template "nope"}}',
      {},
      'template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined',
    ],
    [
      '{{join .S ","}}',
      { S: 'x' },
      'template: :1:2: executing "" at <join .S ",">: error calling join: expected slice, got string',
    ],
    [
      '{{.VeryLongFieldName.AndMore}}',
      {},
      'template: :1:2: executing "" at <.VeryLongFieldName.A...>: map has no entry for key "VeryLongFieldName"',
      'error',
    ],
  ];
  for (const [text, data, message, missingKey] of cases) {
    it(`${JSON.stringify(text)}${missingKey ? ` missingkey=${missingKey}` : ''}`, () =>
      assert.equal(failure(text, data, missingKey), message));
  }
  it('names the template in messages when it has a name', () => {
    assert.throws(
      () => GoTemplate.parse('{{.X.Y}}', { name: 'list' }).execute({ X: 1 }),
      /^TemplateExecError: template: list:1:2: executing "list" at <.X.Y>: can't evaluate field Y in type int$/,
    );
  });
  it('keeps what was written before an error', () => {
    try {
      run('abc{{.X.Y}}', { X: 1 });
      assert.fail('no error');
    } catch (error) {
      assert.ok(error instanceof TemplateExecError);
      assert.equal(error.partial, 'abc');
    }
  });
});

describe('missingkey options', () => {
  it('default prints <no value>, zero prints <nil>, error fails', () => {
    assert.equal(run('{{.X}}', {}, 'default'), '<no value>');
    assert.equal(run('{{.X}}', {}, 'zero'), '<nil>');
    assert.match(failure('{{.X}}', {}, 'error'), /map has no entry for key "X"$/);
  });
});
