// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile words, where ${...} is shell syntax
// Typed instructions from real Dockerfile text (parseDockerfile, then parseStages). Test names cite
// the items of /work/shared/docs/dockerfile-behaviours.md they prove, as "#N".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError } from '../../../src/dockerfile/errors.ts';
import type {
  AddCommand,
  ArgCommand,
  CmdCommand,
  Command,
  CopyCommand,
  EntrypointCommand,
  EnvCommand,
  ExposeCommand,
  HealthcheckCommand,
  LabelCommand,
  MaintainerCommand,
  OnbuildCommand,
  RunCommand,
  ShellCommand,
  StopsignalCommand,
  UserCommand,
  VolumeCommand,
  WorkdirCommand,
} from '../../../src/dockerfile/instructions/commands.ts';
import { parseStages } from '../../../src/dockerfile/instructions/parse-stages.ts';
import { parseDockerfile } from '../../../src/dockerfile/parser.ts';

const stages = (text: string, file = 'Dockerfile') => parseStages(parseDockerfile(text, { file }));
/** The commands of the only stage of `FROM alpine\n` + body. */
const body = (text: string): Command[] => stages(`FROM alpine\n${text}`).stages[0]!.commands;
const one = <T extends Command>(text: string): T => body(text)[0] as T;

/** Asserts that the text fails with a DockerfileError at `line` whose message contains `message`. */
function fails(text: string, line: number, message: string | RegExp, file = 'Dockerfile'): void {
  assert.throws(
    () => stages(text, file),
    (error: unknown) => {
      assert.ok(error instanceof DockerfileError, `a DockerfileError, got ${String(error)}`);
      assert.equal(error.file, file);
      assert.equal(error.line, line, error.message);
      if (typeof message === 'string') assert.ok(error.message.includes(message), error.message);
      else assert.match(error.message, message);
      return true;
    },
  );
}

describe('instructions: general', () => {
  it('#1 keywords are case-insensitive and keep their written form as name', () => {
    const { stages: s } = stages('from alpine AS b\nrun echo hi\nCoPy a b\n');
    assert.equal(s[0]!.origCmd, 'from');
    assert.deepEqual(
      s[0]!.commands.map((c) => [c.kind, c.name]),
      [
        ['run', 'run'],
        ['copy', 'CoPy'],
      ],
    );
  });

  it('#2 an unknown instruction fails with a close-match hint, in the written case', () => {
    fails(
      'FROM alpine\nFNTRYPOINT ["cmd"]\n',
      2,
      'unknown instruction: FNTRYPOINT (did you mean ENTRYPOINT?)',
    );
    fails('FROM alpine\nruun x\n', 2, 'unknown instruction: ruun (did you mean run?)');
    fails('FROM alpine\nBOGUS x\n', 2, /unknown instruction: BOGUS$/);
  });

  it('#3 exec form with trailing junk is shell form', () => {
    const run = one<RunCommand>('RUN ["echo","hello"]this is invalid\n');
    assert.equal(run.prependShell, true);
    assert.deepEqual(run.cmdLine, ['["echo","hello"]this is invalid']);
    const entry = one<EntrypointCommand>('ENTRYPOINT []random string\n');
    assert.equal(entry.prependShell, true);
    assert.deepEqual(entry.cmdLine, ['[]random string']);
  });

  it('#4 commands carry file, the whole line range of a continued instruction and their text', () => {
    const { stages: s } = stages('FROM alpine\n# about run\nRUN echo a \\\n  && echo b\n', 'app.Dockerfile');
    const run = s[0]!.commands[0] as RunCommand;
    assert.equal(run.file, 'app.Dockerfile');
    assert.deepEqual(run.range, { startLine: 3, endLine: 4 });
    assert.equal(run.code, 'RUN echo a   && echo b');
    assert.deepEqual(run.comments, ['about run']);
    fails('FROM alpine\nRUN --bad \\\n  x\n', 2, 'app.Dockerfile:2: unknown flag: --bad', 'app.Dockerfile');
  });

  it('#6 a file with only global ARGs has no stages to build', () => {
    fails('ARG A=1\nARG B\n', 2, 'dockerfile contains no stages to build');
  });

  it('an instruction before the first FROM other than ARG fails, naming the fix', () => {
    fails(
      'ARG A\nRUN x\nFROM a\n',
      2,
      /no build stage in current context .*add a FROM instruction before line 2/,
    );
  });
});

describe('instructions: FROM and stages', () => {
  it('#7 #9 ARGs before the first FROM are meta args, in order', () => {
    const { metaArgs, stages: s } = stages('ARG a1=x\nARG a2 a3="$a2-foo"\nFROM busybox:$a1\n');
    assert.deepEqual(
      metaArgs.map((a) => a.args),
      [
        [{ key: 'a1', value: 'x', docComment: '' }],
        [
          { key: 'a2', docComment: '' },
          { key: 'a3', value: '"$a2-foo"', docComment: '' },
        ],
      ],
    );
    assert.equal(s[0]!.baseName, 'busybox:$a1');
  });

  it('#11 stage names are lowercased and validated; FROM takes one or three arguments', () => {
    const { stages: s } = stages('FROM alpine AS STAge0\nFROM stage0 as Stage1\n');
    assert.deepEqual(
      s.map((st) => [st.index, st.name, st.baseName]),
      [
        [0, 'stage0', 'alpine'],
        [1, 'stage1', 'stage0'],
      ],
    );
    fails(
      'FROM alpine AS 0stage\n',
      1,
      'invalid name for build stage: "0stage", name can\'t start with a number or contain symbols',
    );
    fails('FROM alpine AS my$stage\n', 1, 'invalid name for build stage');
    fails('FROM alpine AS\n', 1, 'FROM requires either one or three arguments');
    fails('FROM alpine foo bar baz\n', 1, 'FROM requires either one or three arguments');
    fails('FROM alpine IS name\n', 1, 'FROM requires either one or three arguments');
    assert.equal(stages('FROM alpine AS a-b_c.d\n').stages[0]!.name, 'a-b_c.d');
  });

  it('#11 stage names are unique, case-insensitively', () => {
    fails(
      'FROM alpine AS build\nRUN x\nFROM alpine AS BUILD\n',
      3,
      'Duplicate stage name "build", stage names should be unique',
    );
  });

  it('#22 FROM --platform is kept as written; unknown FROM flags fail', () => {
    const s = stages('FROM --platform=$BUILDPLATFORM golang AS build\n').stages[0]!;
    assert.equal(s.platform, '$BUILDPLATFORM');
    fails('FROM --plaform=linux/amd64 alpine\n', 1, 'unknown flag: --plaform (did you mean platform?)');
  });

  it('each stage has its index, commands, source range and doc comment', () => {
    const text = 'ARG V\n# base the base stage\nFROM alpine AS base\nRUN a\n\nRUN b\nFROM base\nCMD x\n';
    const s = stages(text).stages;
    assert.equal(s[0]!.docComment, 'the base stage');
    assert.deepEqual(s[0]!.range, { startLine: 3, endLine: 3 });
    assert.deepEqual(s[0]!.fullRange, { startLine: 3, endLine: 6 });
    assert.equal(s[0]!.sourceCode, 'FROM alpine AS base');
    assert.deepEqual(
      s.map((st) => st.commands.map((c) => c.code)),
      [['RUN a', 'RUN b'], ['CMD x']],
    );
    assert.equal(s[1]!.name, '');
    assert.equal(s[1]!.index, 1);
  });
});

describe('instructions: RUN', () => {
  it('#35 shell form prepends the shell; exec form does not', () => {
    const [shell, exec] = body('RUN echo $HOME\nRUN ["echo", "$HOME"]\n') as [RunCommand, RunCommand];
    assert.deepEqual([shell.prependShell, shell.cmdLine], [true, ['echo $HOME']]);
    assert.deepEqual([exec.prependShell, exec.cmdLine], [false, ['echo', '$HOME']]);
  });

  it('#39 #40 a mount without type is a read-only bind; from/src/target/rw parse', () => {
    const run = one<RunCommand>('RUN --mount=target=/ctx --mount=from=build,src=/out,target=/in,rw ls\n');
    assert.deepEqual(
      run.mounts.map((m) => [m.type, m.target, m.source, m.from, m.readOnly]),
      [
        ['bind', '/ctx', '', '', true],
        ['bind', '/in', '/out', 'build', false],
      ],
    );
    assert.deepEqual(run.flagsUsed, ['mount']);
  });

  it('#41 #42 cache mounts take id, sharing, mode, uid, gid and default to read-write', () => {
    const run = one<RunCommand>(
      'RUN --mount=type=cache,id=gomod,target=/go/pkg/mod,sharing=locked,mode=0700,uid=1000,gid=1000 go build\n',
    );
    const m = run.mounts[0]!;
    assert.deepEqual(
      [m.type, m.cacheId, m.target, m.cacheSharing, m.mode, m.uid, m.gid, m.readOnly],
      ['cache', 'gomod', '/go/pkg/mod', 'locked', 0o700, 1000, 1000, false],
    );
  });

  it('#44 tmpfs mounts take a size', () => {
    const m = one<RunCommand>('RUN --mount=type=tmpfs,target=/t,size=128m true\n').mounts[0]!;
    assert.deepEqual([m.type, m.sizeLimit, m.readOnly], ['tmpfs', 128 * 1024 * 1024, false]);
    fails(
      'FROM a\nRUN --mount=type=bind,size=1m,target=/t true\n',
      2,
      "unexpected key 'size' for mount type 'bind'",
    );
    fails('FROM a\nRUN --mount=type=tmpfs,target=/t,size=lots true\n', 2, 'invalid value for size: lots');
  });

  it('#45 secret mounts: id, target, env, required, mode, uid, gid', () => {
    const run = one<RunCommand>(
      'RUN --mount=type=secret,id=token,env=TOKEN,required --mount=type=secret,id=k,target=/k,mode=0440,uid=1,gid=2,required=false cat\n',
    );
    const [a, b] = run.mounts as [RunCommand['mounts'][0], RunCommand['mounts'][0]];
    assert.deepEqual(
      [a.type, a.cacheId, a.env, a.required, a.readOnly],
      ['secret', 'token', 'TOKEN', true, true],
    );
    assert.deepEqual([b.target, b.mode, b.uid, b.gid, b.required], ['/k', 0o440, 1, 2, false]);
    fails(
      'FROM a\nRUN --mount=type=secret true\n',
      2,
      'invalid secret mount. one of source, target required',
    );
    fails('FROM a\nRUN --mount=type=secret,id=a,from=b true\n', 2, 'secret mount should not have a from');
    fails('FROM a\nRUN --mount=type=secret,id=a,src=b true\n', 2, "both source and id can't be set");
    fails(
      'FROM a\nRUN --mount=type=bind,required true\n',
      2,
      "unexpected key 'required' for mount type 'bind'",
    );
  });

  it('#46 ssh mounts', () => {
    const m = one<RunCommand>('RUN --mount=type=ssh,id=default,mode=0600,required git clone\n').mounts[0]!;
    assert.deepEqual([m.type, m.cacheId, m.mode, m.required], ['ssh', 'default', 0o600, true]);
  });

  it('#47 flag, option and type typos fail with suggestions', () => {
    fails('FROM a\nRUN --mont=type=cache,target=/x true\n', 2, 'unknown flag: --mont (did you mean mount?)');
    fails(
      'FROM a\nRUN --mount=typ=cache,target=/x true\n',
      2,
      "unexpected key 'typ' in 'typ=cache' (did you mean type?)",
    );
    fails(
      'FROM a\nRUN --mount=type=tmp,target=/x true\n',
      2,
      'unsupported mount type "tmp" (did you mean tmpfs?)',
    );
    fails(
      'FROM a\nRUN --mount=type=cache,target=/x,sharing=lock true\n',
      2,
      'unsupported sharing value "lock" (did you mean locked?)',
    );
    fails('FROM a\nRUN --mount=type=cache,target=/x,mode=999 true\n', 2, 'invalid value 999 for mode');
    fails('FROM a\nRUN --mount=type=cache,target=/x,uid=-1 true\n', 2, 'invalid value -1 for uid');
    fails('FROM a\nRUN --mount=type=bind,target=/x,ro=maybe true\n', 2, 'invalid value for ro: maybe');
    fails(
      'FROM a\nRUN --mount=type=bind,target=/x,mode=0700 true\n',
      2,
      'mode not allowed for "bind" type mounts',
    );
    fails(
      'FROM a\nRUN --mount=type=bind,sharing=shared true\n',
      2,
      'invalid cache sharing set for bind mount',
    );
    fails('FROM a\nRUN --mount=target=/x,foo true\n', 2, "invalid field 'foo' must be a key=value pair");
    fails(
      'FROM a\nRUN --mount=target=a\\"b true\n',
      2,
      'failed to parse csv mounts: parse error on line 1, column 9: bare " in non-quoted-field',
    );
    fails('FROM a\nRUN --mount true\n', 2, 'missing a value on flag: --mount');
  });

  it('#48 several mounts on one RUN, including nested targets', () => {
    const run = one<RunCommand>(
      'RUN --mount=type=cache,target=/foo/bar --mount=type=cache,target=/foo/bar/baz --mount=src=f,target=/f ls\n',
    );
    assert.deepEqual(
      run.mounts.map((m) => m.target),
      ['/foo/bar', '/foo/bar/baz', '/f'],
    );
  });

  it('#34 #43 mount options with variables are kept for run time; from refuses them', () => {
    const run = one<RunCommand>('RUN --mount=type=$T,id=$ID,target=$P true\n');
    assert.deepEqual(run.mountSpecs, ['type=$T,id=$ID,target=$P']);
    fails(
      'FROM a\nRUN --mount=from=$X,target=/x true\n',
      2,
      "'from' doesn't support variable expansion, define alias stage instead",
    );
  });

  it('#49 #50 --network and --security take their modes', () => {
    const [a, b, c] = body(
      'RUN --network=none true\nRUN --network=host --security=insecure true\nRUN true\n',
    ) as [RunCommand, RunCommand, RunCommand];
    assert.deepEqual(
      [a.network, b.network, b.security, c.network, c.security],
      ['none', 'host', 'insecure', 'default', 'sandbox'],
    );
    fails('FROM a\nRUN --network=bridge true\n', 2, 'invalid network mode "bridge"');
    fails('FROM a\nRUN --security=root true\n', 2, 'security "root" is not valid');
  });

  it('#51 --device takes a CDI name and required', () => {
    const run = one<RunCommand>(
      'RUN --device=vendor.com/gpu=all,required --device=name=x,required=false true\n',
    );
    assert.deepEqual(run.devices, [
      { name: 'vendor.com/gpu=all', required: true },
      { name: 'x', required: false },
    ]);
    fails('FROM a\nRUN --device=a,name=b true\n', 2, 'device name already set to a');
  });

  it('#52 #55 #56 heredocs are carried on RUN, with their descriptors and tab stripping', () => {
    const run = one<RunCommand>('RUN <<EOF\necho hi\nEOF\n');
    assert.deepEqual(run.files, [{ name: 'EOF', data: 'echo hi\n', chomp: false }]);
    assert.deepEqual(run.cmdLine, ['<<EOF']);
    const fds = one<RunCommand>('RUN cat /dev/fd/3 /dev/fd/4 3<<IN1 4<<-IN2\none\nIN1\n\ttwo\n\tIN2\n');
    assert.deepEqual(
      fds.files.map((f) => [f.name, f.data, f.chomp, f.fileDescriptor]),
      [
        ['IN1', 'one\n', false, 3],
        ['IN2', 'two\n', true, 4],
      ],
    );
  });
});

describe('instructions: COPY and ADD', () => {
  it('#58 #62 #64 sources and destination as written, variables unexpanded', () => {
    const copy = one<CopyCommand>('COPY *.go sub/* $FOO /dest/\n');
    assert.deepEqual([copy.sourcePaths, copy.destPath, copy.from], [['*.go', 'sub/*', '$FOO'], '/dest/', '']);
    const json = one<CopyCommand>('COPY ["a b", "c d"]\n');
    assert.deepEqual([json.sourcePaths, json.destPath], [['a b'], 'c d']);
  });

  it('COPY and ADD need a destination', () => {
    fails(
      'FROM a\nCOPY onlyone\n',
      2,
      'COPY requires at least two arguments, but only one was provided. Destination could not be determined',
    );
    fails('FROM a\nADD onlyone\n', 2, 'ADD requires at least two arguments');
  });

  it('#13 #16 --from takes a stage name, an index or an image', () => {
    const [a, b, c] = body(
      'COPY --from=build /a /b\nCOPY --from=0 /a /b\nCOPY --from=busybox:1.36 /bin/sh /sh\n',
    ) as CopyCommand[];
    assert.deepEqual([a!.from, b!.from, c!.from], ['build', '0', 'busybox:1.36']);
  });

  it("#34 --from refuses variables with BuildKit's message", () => {
    fails(
      'FROM a\nCOPY --from=$X /a /b\n',
      2,
      'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
    );
    fails('FROM a\nCOPY --from=${X} /a /b\n', 2, 'variable expansion is not supported for --from');
  });

  it('#72 #75 #78 #79 #81 COPY flags', () => {
    const copy = one<CopyCommand>(
      'COPY --chown=${owner}:${group} --chmod=0644 --link --parents --exclude=*.tmp --exclude=.git a b/\n',
    );
    assert.deepEqual(
      [copy.chown, copy.chmod, copy.link, copy.parents, copy.excludePatterns],
      ['${owner}:${group}', '0644', true, true, ['*.tmp', '.git']],
    );
    const plain = one<CopyCommand>('COPY --link=false a b\n');
    assert.deepEqual([plain.link, plain.parents, plain.chmod, plain.chown], [false, false, '', '']);
    fails('FROM a\nCOPY --link=maybe a b\n', 2, 'expecting boolean value for flag --link, not: maybe');
    fails('FROM a\nCOPY --link= a b\n', 2, 'missing a value on flag: --link');
    fails('FROM a\nCOPY --chown a b\n', 2, 'missing a value on flag: --chown');
    fails('FROM a\nCOPY --from=a --from=b a b\n', 2, 'duplicate flag specified: --from');
    fails('FROM a\nCOPY --checksum=sha256:x a b\n', 2, 'unknown flag: --checksum');
    fails('FROM a\nCOPY --unpack a b\n', 2, 'unknown flag: --unpack');
  });

  it('#75 #76 #77 --chmod: octal, symbolic and variables; bad values fail before running', () => {
    for (const mode of ['0644', '777', '0', 'go-w', 'u=rw,g=r,o=r', 'a+X', 'u+rw,g+r,o-x,o+w', '${mode}']) {
      assert.equal(one<CopyCommand>(`COPY --chmod=${mode} a b\n`).chmod, mode);
    }
    fails(
      'FROM a\nCOPY --chmod=64a a b\n',
      2,
      "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777",
    );
    fails(
      'FROM a\nADD --chmod=10000 a b\n',
      2,
      "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777",
    );
    fails('FROM a\nCOPY --chmod=u+q a b\n', 2, 'invalid syntax');
  });

  it('#86 #87 #91 #93 ADD flags: checksum, keep-git-dir, unpack, link, exclude', () => {
    const [a, b] = body(
      'ADD --checksum=sha256:abc --keep-git-dir --unpack=false --link --chown=1:2 --exclude=x https://e.com/a.tgz /a\nADD a.tar /b\n',
    ) as AddCommand[];
    assert.deepEqual(
      [a!.checksum, a!.keepGitDir, a!.unpack, a!.link, a!.chown, a!.excludePatterns],
      ['sha256:abc', true, false, true, '1:2', ['x']],
    );
    assert.deepEqual([b!.checksum, b!.keepGitDir, b!.unpack], ['', undefined, undefined]);
    fails('FROM a\nADD --from=x a b\n', 2, 'unknown flag: --from');
    fails('FROM a\nADD --parents a b\n', 2, 'unknown flag: --parents');
  });

  it('#83 heredoc sources: several into a directory; a heredoc destination fails', () => {
    const copy = one<CopyCommand>(
      'COPY --chmod=0755 <<one.sh <<"two.txt" /dst/\necho 1\none.sh\n$two\ntwo.txt\n',
    );
    assert.deepEqual(copy.sourcePaths, []);
    assert.deepEqual(copy.sourceContents, [
      { path: 'one.sh', data: 'echo 1\n', expand: true },
      { path: 'two.txt', data: '$two\n', expand: false },
    ]);
    assert.equal(copy.chmod, '0755');
    fails('FROM a\nCOPY a <<EOF\nx\nEOF\n', 2, 'COPY cannot accept a heredoc as a destination');
    fails('FROM a\nADD a <<EOF\nx\nEOF\n', 2, 'ADD cannot accept a heredoc as a destination');
  });

  it('#56 COPY <<-EOF bodies have their tabs stripped', () => {
    const copy = one<CopyCommand>('COPY <<-EOF /f\n\tindented\n\t\tmore\n\tEOF\n');
    assert.equal(copy.sourceContents[0]!.data, 'indented\nmore\n');
  });
});

describe('instructions: metadata', () => {
  it('#31 #32 ENV has the legacy and the key=value forms; values are kept as written', () => {
    const [legacy, kv] = body(
      'ENV PATH /usr/bin:$PATH x\nENV A=1 B="two words" C=foo%sbar\n',
    ) as EnvCommand[];
    assert.deepEqual(legacy!.env, [{ key: 'PATH', value: '/usr/bin:$PATH x', noDelim: true }]);
    assert.deepEqual(kv!.env, [
      { key: 'A', value: '1', noDelim: false },
      { key: 'B', value: '"two words"', noDelim: false },
      { key: 'C', value: 'foo%sbar', noDelim: false },
    ]);
    fails('FROM a\nENV\n', 2, 'ENV requires at least one argument');
    fails('FROM a\nENV --x=1 A=b\n', 2, 'unknown flag: --x');
  });

  it('#103 LABEL takes key=value pairs', () => {
    const label = one<LabelCommand>('LABEL a=b "c d"="e f" version=$V\n');
    assert.deepEqual(
      label.labels.map((l) => [l.key, l.value]),
      [
        ['a', 'b'],
        ['"c d"', '"e f"'],
        ['version', '$V'],
      ],
    );
    fails('FROM a\nLABEL\n', 2, 'LABEL requires at least one argument');
  });

  it('#25 ARG declares several names; quoted defaults keep their quotes until expanded', () => {
    const arg = one<ArgCommand>('ARG a1="foo bar" a2=box a3 a4=\n');
    assert.deepEqual(arg.args, [
      { key: 'a1', value: '"foo bar"', docComment: '' },
      { key: 'a2', value: 'box', docComment: '' },
      { key: 'a3', docComment: '' },
      { key: 'a4', value: '', docComment: '' },
    ]);
    fails('FROM a\nARG =x\n', 2, 'ARG names can not be blank');
    fails('FROM a\nARG\n', 2, 'ARG requires at least one argument');
  });

  it('ARG keeps the doc comment written above it', () => {
    const arg = one<ArgCommand>('# VERSION the version to install\nARG VERSION=1\n');
    assert.equal(arg.args[0]!.docComment, 'the version to install');
  });

  it('#102 EXPOSE keeps its words (sorted as BuildKit) for expansion', () => {
    assert.deepEqual(one<ExposeCommand>('EXPOSE 8080 $PORTS 53/udp\n').ports, ['$PORTS', '53/udp', '8080']);
    fails('FROM a\nEXPOSE\n', 2, 'EXPOSE requires at least one argument');
    fails('FROM a\nEXPOSE 80/xyz\n', 2, 'invalid port: "80/xyz": invalid proto: xyz');
    fails('FROM a\nEXPOSE 90-80\n', 2, 'invalid containerPort: 90-80');
  });

  it('#95 #98 WORKDIR, USER, VOLUME, STOPSIGNAL, MAINTAINER take their values', () => {
    const [w, u, v, vj, s, m] = body(
      'WORKDIR $HOME/app\nUSER app:staff\nVOLUME /a /b\nVOLUME ["/c"]\nSTOPSIGNAL SIGKILL\nMAINTAINER Jane <j@x>\n',
    ) as [WorkdirCommand, UserCommand, VolumeCommand, VolumeCommand, StopsignalCommand, MaintainerCommand];
    assert.deepEqual(
      [w.path, u.user, v.volumes, vj.volumes, s.signal, m.maintainer],
      ['$HOME/app', 'app:staff', ['/a', '/b'], ['/c'], 'SIGKILL', 'Jane <j@x>'],
    );
    fails('FROM a\nWORKDIR\n', 2, 'WORKDIR requires exactly one argument');
    fails('FROM a\nUSER\n', 2, 'USER requires exactly one argument');
    fails('FROM a\nVOLUME ["/a", " "]\n', 2, 'VOLUME specified can not be an empty string');
    fails('FROM a\nSTOPSIGNAL\n', 2, 'STOPSIGNAL requires exactly one argument');
    fails('FROM a\nMAINTAINER\n', 2, 'MAINTAINER requires exactly one argument');
  });

  it('#100 #101 CMD and ENTRYPOINT: exec form verbatim, shell form marked; ENTRYPOINT [] clears', () => {
    const [cj, cs, ej, ee] = body('CMD ["a", "b"]\nCMD a b\nENTRYPOINT ["x"]\nENTRYPOINT []\n') as [
      CmdCommand,
      CmdCommand,
      EntrypointCommand,
      EntrypointCommand,
    ];
    assert.deepEqual([cj.cmdLine, cj.prependShell], [['a', 'b'], false]);
    assert.deepEqual([cs.cmdLine, cs.prependShell], [['a b'], true]);
    assert.deepEqual([ej.cmdLine, ee.cmdLine], [['x'], null]);
    fails('FROM a\nCMD --flag x\n', 2, 'unknown flag: --flag');
  });

  it('SHELL takes JSON only', () => {
    assert.deepEqual(one<ShellCommand>('SHELL ["/bin/bash", "-c"]\n').shell, ['/bin/bash', '-c']);
    fails('FROM a\nSHELL /bin/bash -c\n', 2, 'SHELL requires the arguments to be in JSON form');
    fails('FROM a\nSHELL []\n', 2, 'SHELL requires at least one argument');
  });
});

describe('instructions: HEALTHCHECK', () => {
  it('parses CMD in both forms with its durations and retries', () => {
    const [json, shell] = body(
      'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=5s --retries=3 CMD ["curl", "-f", "x"]\nHEALTHCHECK CMD curl -f x || exit 1\n',
    ) as HealthcheckCommand[];
    assert.deepEqual(json!.health, {
      test: ['CMD', 'curl', '-f', 'x'],
      interval: 30e9,
      timeout: 90e9,
      startPeriod: 1.5e9,
      startInterval: 5e9,
      retries: 3,
    });
    assert.deepEqual(shell!.health.test, ['CMD-SHELL', 'curl -f x || exit 1']);
  });

  it('NONE disables; it takes no arguments', () => {
    assert.deepEqual(one<HealthcheckCommand>('HEALTHCHECK NONE\n').health.test, ['NONE']);
    fails('FROM a\nHEALTHCHECK NONE x\n', 2, 'HEALTHCHECK NONE takes no arguments');
  });

  it('rejects bad durations, retries, types and flags with BuildKit messages', () => {
    fails('FROM a\nHEALTHCHECK --interval=5 CMD x\n', 2, 'time: missing unit in duration "5"');
    fails('FROM a\nHEALTHCHECK --timeout=5d CMD x\n', 2, 'time: unknown unit "d" in duration "5d"');
    fails('FROM a\nHEALTHCHECK --interval=abc CMD x\n', 2, 'time: invalid duration "abc"');
    fails('FROM a\nHEALTHCHECK --interval=500us CMD x\n', 2, 'Interval "interval" cannot be less than 1ms');
    fails('FROM a\nHEALTHCHECK --retries=-1 CMD x\n', 2, '--retries cannot be negative (-1)');
    fails('FROM a\nHEALTHCHECK --retries=x CMD x\n', 2, 'strconv.ParseInt: parsing "x": invalid syntax');
    fails('FROM a\nHEALTHCHECK CONNECT x\n', 2, 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)');
    fails('FROM a\nHEALTHCHECK CMD\n', 2, 'Missing command after HEALTHCHECK CMD');
    fails('FROM a\nHEALTHCHECK --intervl=1s CMD x\n', 2, 'unknown flag: --intervl (did you mean interval?)');
    fails('FROM a\nHEALTHCHECK\n', 2, 'HEALTHCHECK requires at least one argument');
  });
});

describe('instructions: ONBUILD', () => {
  it('#105 #107 #109 keeps the trigger and its expression, heredocs included', () => {
    const [run, copy] = body(
      'ONBUILD RUN --mount=type=cache,target=/c echo test\nONBUILD COPY --from=build <<EOF /x\nhi\nEOF\n',
    ) as OnbuildCommand[];
    assert.equal(run!.expression, 'RUN --mount=type=cache,target=/c echo test');
    assert.equal(run!.trigger.keyword, 'run');
    assert.equal(copy!.expression, 'COPY --from=build <<EOF /x\nhi\nEOF');
  });

  it('forbids ONBUILD ONBUILD, FROM and MAINTAINER triggers', () => {
    fails('FROM a\nONBUILD ONBUILD RUN x\n', 2, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    fails('FROM a\nonbuild from x\n', 2, "FROM isn't allowed as an ONBUILD trigger");
    fails('FROM a\nONBUILD MAINTAINER me\n', 2, "MAINTAINER isn't allowed as an ONBUILD trigger");
    fails('FROM a\nONBUILD\n', 2, 'ONBUILD requires at least one argument');
  });
});
