// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile words, where ${...} is shell syntax
// Variable expansion of typed instructions and ARG/ENV scoping across stages, from real Dockerfile
// text. Test names cite the items of /work/shared/docs/dockerfile-behaviours.md as "#N".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError } from '../../../src/dockerfile/errors.ts';
import { automaticArgs, BuildArgs } from '../../../src/dockerfile/instructions/arg-scope.ts';
import type {
  AddCommand,
  ArgCommand,
  CmdCommand,
  Command,
  CopyCommand,
  EnvCommand,
  ExposeCommand,
  HealthcheckCommand,
  LabelCommand,
  OnbuildCommand,
  RunCommand,
  StopsignalCommand,
  UserCommand,
  VolumeCommand,
  WorkdirCommand,
} from '../../../src/dockerfile/instructions/commands.ts';
import { expandCommand } from '../../../src/dockerfile/instructions/expand-command.ts';
import { parseExposedPorts } from '../../../src/dockerfile/instructions/expose-ports.ts';
import { parseStages } from '../../../src/dockerfile/instructions/parse-stages.ts';
import { parseDockerfile } from '../../../src/dockerfile/parser.ts';
import { ShellLexer } from '../../../src/dockerfile/shell-lexer.ts';

const lexer = new ShellLexer();
const parse = (text: string) => parseStages(parseDockerfile(text));
const commands = (text: string) => parse(`FROM scratch\n${text}`).stages[0]!.commands;
const env = (record: Record<string, string>) => new Map(Object.entries(record));
const expanded = <T extends Command>(text: string, vars: Record<string, string> = {}): T =>
  expandCommand(commands(text)[0] as T, env(vars), lexer).command;

/**
 * Runs a Dockerfile's ARG/ENV instructions through the scopes as a builder would, and returns
 * what each RUN would see (its expanded mounts and environment).
 */
function simulate(text: string, buildArgs: Record<string, string> = {}, target = '') {
  const { metaArgs, stages } = parse(text);
  const args = new BuildArgs(metaArgs, {
    buildArgs,
    automatic: automaticArgs(
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      target,
    ),
  });
  const scopes = new Map<string, ReturnType<BuildArgs['newStage']>>();
  const runs: { stage: number; env: Record<string, string>; declared: string[] }[] = [];
  const froms = stages.map((stage) => {
    const from = args.expandFrom(stage);
    const base = scopes.get(from.baseName);
    const scope = base ? base.fork() : args.newStage(from.baseName === 'scratch' ? {} : { PATH: '/usr/bin' });
    for (const cmd of stage.commands) {
      if (cmd.kind === 'arg') scope.declare(cmd);
      else if (cmd.kind === 'env') scope.setEnv(expandCommand(cmd, scope.env, lexer).command.env);
      else if (cmd.kind === 'run') {
        runs.push({
          stage: stage.index,
          env: Object.fromEntries(scope.env.entries()),
          declared: scope.declared.map((d) => (d.value === undefined ? d.key : `${d.key}=${d.value}`)),
        });
      }
    }
    if (stage.name) scopes.set(stage.name, scope);
    return from;
  });
  return { froms, runs, global: args.global };
}

describe('expandCommand: which words are expanded', () => {
  it('#31 #33 ENV keys and values; LABEL keys and values', () => {
    const e = expanded<EnvCommand>('ENV A=$X B="${X} y" $K=v\n', { X: 'x', K: 'key' });
    assert.deepEqual(
      e.env.map((p) => [p.key, p.value]),
      [
        ['A', 'x'],
        ['B', 'x y'],
        ['key', 'v'],
      ],
    );
    const l = expanded<LabelCommand>('LABEL "$K"="v $X"\n', { K: 'k', X: 'x' });
    assert.deepEqual([l.labels[0]!.key, l.labels[0]!.value], ['k', 'v x']);
  });

  it('#32 ENV values without variables are stored literally', () => {
    const e = expanded<EnvCommand>('ENV F=foo%sbar\n');
    assert.equal(e.env[0]!.value, 'foo%sbar');
  });

  it('#64 #72 #75 COPY: sources, destination, --chown and --chmod; not --from', () => {
    const c = expanded<CopyCommand>(
      'COPY --from=build --chown=${owner}:${group} --chmod=${mode} $FOO ${DIR}/x $DEST\n',
      {
        owner: 'app',
        group: 'staff',
        mode: '0640',
        FOO: 'foo',
        DIR: 'src',
        DEST: '/dst/',
      },
    );
    assert.deepEqual(
      [c.from, c.chown, c.chmod, c.sourcePaths, c.destPath],
      ['build', 'app:staff', '0640', ['foo', 'src/x'], '/dst/'],
    );
  });

  it('#75 #76 --chmod from a variable is checked once expanded', () => {
    const cmd = commands('COPY --chmod=$M a b\n')[0]! as CopyCommand;
    assert.throws(
      () => expandCommand(cmd, env({ M: '64a' }), lexer),
      (e: unknown) =>
        e instanceof DockerfileError &&
        e.line === 2 &&
        e.message.includes(
          "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777",
        ),
    );
    assert.equal(expandCommand(cmd, env({}), lexer).command.chmod, '');
  });

  it('#90 #91 ADD: --checksum and --chmod from ENV, sources and destination', () => {
    const a = expanded<AddCommand>('ADD --checksum=$SUM --chmod=$MODE https://x/$F /d/\n', {
      SUM: 'sha256:abc',
      MODE: '755',
      F: 'f.tgz',
    });
    assert.deepEqual(
      [a.checksum, a.chmod, a.sourcePaths, a.destPath],
      ['sha256:abc', '755', ['https://x/f.tgz'], '/d/'],
    );
  });

  it('#84 #85 unquoted heredoc bodies expand (quotes stay literal, \\ escapes apply); quoted ones do not', () => {
    const [plain, quoted] = commands(
      'COPY <<EOF /a\n"$NAME" \\$x \\\\ end\\\nEOF\nCOPY <<"EOF" /b\n$NAME\nEOF\n',
    ) as [CopyCommand, CopyCommand];
    const vars = env({ NAME: 'world' });
    assert.equal(expandCommand(plain, vars, lexer).command.sourceContents[0]!.data, '"world" $x \\ end\n');
    assert.equal(expandCommand(quoted, vars, lexer).command.sourceContents[0]!.data, '$NAME\n');
  });

  it('#102 EXPOSE words expand and split into several ports; tcp is the default protocol', () => {
    const e = expanded<ExposeCommand>('EXPOSE $PORTS 9000/UDP\n', { PORTS: '80 443/tcp 8000-8001/udp' });
    assert.deepEqual(e.ports, ['80', '443/tcp', '8000-8001/udp', '9000/UDP']);
    assert.deepEqual(parseExposedPorts(e.ports), ['80/tcp', '443/tcp', '8000/udp', '8001/udp', '9000/udp']);
    assert.throws(() => parseExposedPorts(['80/xyz']), /invalid port: "80\/xyz": invalid proto: xyz/);
    assert.throws(() => parseExposedPorts(['abc']), /invalid containerPort: abc/);
    assert.deepEqual(parseExposedPorts(['127.0.0.1:8080:80']), ['80/tcp']);
    const bad = commands('EXPOSE $P\n')[0] as ExposeCommand;
    assert.throws(
      () => expandCommand(bad, env({ P: '80/sctp 1/xyz' }), lexer),
      /Dockerfile:2: invalid port: "1\/xyz"/,
    );
  });

  it('#95 #98 WORKDIR, USER, VOLUME and STOPSIGNAL expand', () => {
    const [w, u, v, s] = commands('WORKDIR $HOME/app\nUSER ${U}:${G}\nVOLUME $D /e\nSTOPSIGNAL $SIG\n');
    const vars = env({ HOME: '/root', U: 'app', G: 'staff', D: '/data', SIG: 'SIGINT' });
    assert.equal(expandCommand(w as WorkdirCommand, vars, lexer).command.path, '/root/app');
    assert.equal(expandCommand(u as UserCommand, vars, lexer).command.user, 'app:staff');
    assert.deepEqual(expandCommand(v as VolumeCommand, vars, lexer).command.volumes, ['/data', '/e']);
    assert.equal(expandCommand(s as StopsignalCommand, vars, lexer).command.signal, 'SIGINT');
  });

  it('#43 RUN expands only its --mount options', () => {
    const r = expanded<RunCommand>('RUN --mount=type=$T,id=$ID,target=$P echo $HOME\n', {
      T: 'cache',
      ID: 'c1',
      P: '/cache',
      HOME: '/root',
    });
    assert.deepEqual(
      [r.mounts[0]!.type, r.mounts[0]!.cacheId, r.mounts[0]!.target],
      ['cache', 'c1', '/cache'],
    );
    assert.deepEqual(r.cmdLine, ['echo $HOME']);
    const bad = commands('RUN --mount=type=$T,target=/x true\n')[0] as RunCommand;
    assert.throws(
      () => expandCommand(bad, env({ T: 'tmp' }), lexer),
      /Dockerfile:2: unsupported mount type "tmp" \(did you mean tmpfs\?\)/,
    );
  });

  it('CMD, ENTRYPOINT, HEALTHCHECK, ONBUILD and ARG are left as written', () => {
    const vars = env({ X: 'x' });
    const [cmd, hc, ob, arg] = commands(
      'CMD echo $X\nHEALTHCHECK CMD echo $X\nONBUILD RUN echo $X\nARG A=$X\n',
    );
    assert.deepEqual(expandCommand(cmd as CmdCommand, vars, lexer).command.cmdLine, ['echo $X']);
    assert.deepEqual(expandCommand(hc as HealthcheckCommand, vars, lexer).command.health.test, [
      'CMD-SHELL',
      'echo $X',
    ]);
    assert.equal(expandCommand(ob as OnbuildCommand, vars, lexer).command.expression, 'RUN echo $X');
    assert.equal(expandCommand(arg as ArgCommand, vars, lexer).command.args[0]!.value, '$X');
  });

  it('reports the variables used, set and unset, and leaves the input untouched', () => {
    const cmd = commands('COPY $A ${B:-b} /d\n')[0] as CopyCommand;
    const r = expandCommand(cmd, env({ A: 'a' }), lexer);
    assert.deepEqual([...r.matched], ['A']);
    assert.deepEqual([...r.unmatched], ['B']);
    assert.deepEqual(cmd.sourcePaths, ['$A', '${B:-b}']);
  });

  it('a bad substitution fails naming the file and line', () => {
    const cmd = commands('\nWORKDIR ${X:?needs X}\n')[0] as WorkdirCommand;
    assert.throws(
      () => expandCommand(cmd, env({}), lexer),
      (e: unknown) => e instanceof DockerfileError && e.line === 3 && e.message.endsWith('X: needs X'),
    );
  });

  it('uses the backtick escape of the Dockerfile when given that lexer', () => {
    const ast = parseDockerfile('# escape=`\nFROM scratch\nWORKDIR C:\\a`$X\n');
    const cmd = parseStages(ast).stages[0]!.commands[0] as WorkdirCommand;
    const r = expandCommand(cmd, env({ X: 'x' }), new ShellLexer({ escapeToken: ast.escapeChar }));
    assert.equal(r.command.path, 'C:\\a$X');
  });
});

describe('ARG and ENV scopes across stages', () => {
  it('#7 a global ARG is usable in FROM and a build-arg overrides it', () => {
    const text = 'ARG IMG=busybox\nARG TAG=1.36\nFROM ${IMG}:${TAG}\nRUN true\n';
    assert.equal(simulate(text).froms[0]!.baseName, 'busybox:1.36');
    assert.equal(simulate(text, { TAG: 'latest' }).froms[0]!.baseName, 'busybox:latest');
  });

  it('#8 a global ARG default may require a value with ${X:?msg}', () => {
    const text = 'ARG X\nARG Y="${X:?X must be set}"\nFROM scratch\n';
    assert.throws(
      () => simulate(text),
      (e: unknown) => e instanceof DockerfileError && e.line === 2 && e.message.includes('X: X must be set'),
    );
    assert.equal(simulate(text, { X: '1' }).global.get('Y'), '1');
  });

  it('#9 global ARGs can refer to earlier ones', () => {
    const { global } = simulate('ARG a2=bar\nARG a3="$a2-foo"\nFROM scratch\n');
    assert.equal(global.get('a3'), 'bar-foo');
  });

  it('#10 a global ARG is invisible in a stage until declared there with ARG NAME', () => {
    const { runs } = simulate('ARG V=global\nFROM scratch\nRUN before\nARG V\nRUN after\n');
    assert.equal(runs[0]!.env.V, undefined);
    assert.equal(runs[1]!.env.V, 'global');
  });

  it('#6 FROM "" and FROM ${BLANK} fail', () => {
    assert.throws(() => simulate('FROM ""\n'), /Dockerfile:1: base name \(""\) should not be blank/);
    assert.throws(
      () => simulate('ARG BLANK\nFROM ${BLANK}\n'),
      /Dockerfile:2: base name \(\$\{BLANK\}\) should not be blank/,
    );
  });

  it('#19 #20 automatic platform args and TARGETSTAGE are in the global scope', () => {
    const text = 'FROM build-${TARGETOS}-${TARGETARCH} AS final\nARG TARGETSTAGE TARGETPLATFORM\nRUN x\n';
    const { froms, runs } = simulate(text, {}, 'final');
    assert.equal(froms[0]!.baseName, 'build-linux-arm64');
    assert.equal(runs[0]!.env.TARGETSTAGE, 'final');
    assert.equal(runs[0]!.env.TARGETPLATFORM, 'linux/arm64/v8');
  });

  it('#21 #22 platform ARGs need ARG inside a stage; a build-arg overrides TARGETOS; --platform expands', () => {
    const text = 'FROM --platform=$BUILDPLATFORM alpine\nRUN a\nARG TARGETOS\nRUN b\n';
    const { froms, runs } = simulate(text, { TARGETOS: 'freebsd' });
    assert.equal(froms[0]!.platform, 'linux/amd64');
    assert.equal(runs[0]!.env.TARGETOS, undefined);
    assert.equal(runs[1]!.env.TARGETOS, 'freebsd');
    assert.throws(
      () => simulate('FROM --platform=$BULIDPLATFORM alpine\n'),
      /empty platform value from expression \$BULIDPLATFORM \(did you mean BUILDPLATFORM\?\)/,
    );
  });

  it('#25 #26 #27 defaults expand when declared; build-args win; ARG FOO stays unset; ARG BAR= is empty', () => {
    const text =
      'FROM alpine\nENV image=idle-img\nARG a1="foo bar" a2=box\nARG my_arg\nARG c=${my_arg:-def_val} d=${image#idle} FOO BAR=\nRUN x\n';
    const { runs } = simulate(text, { a2: 'override' });
    const e = runs[0]!.env;
    assert.deepEqual([e.a1, e.a2, e.c, e.d], ['foo bar', 'override', 'def_val', '-img']);
    assert.equal('FOO' in e, false);
    assert.equal(e.BAR, '');
    assert.ok(runs[0]!.declared.includes('FOO'));
  });

  it('#29 #30 re-declaring an ARG overrides it; the declared list records values in order', () => {
    const { runs } = simulate('FROM alpine\nARG A=1\nRUN one\nARG A=2\nRUN two\n');
    assert.equal(runs[0]!.env.A, '1');
    assert.equal(runs[1]!.env.A, '2');
    assert.deepEqual(runs[1]!.declared, ['A=1', 'A=2']);
  });

  it('#33 ENV reaches later instructions and stages built FROM this one, not unrelated stages', () => {
    const text =
      'FROM alpine AS base\nENV GREETING=hello\nARG B=1\nFROM base AS child\nRUN child\nFROM alpine AS other\nRUN other\n';
    const { runs } = simulate(text);
    assert.equal(runs[0]!.env.GREETING, 'hello');
    assert.equal(runs[0]!.env.B, '1');
    assert.deepEqual(runs[0]!.declared, ['B=1']);
    assert.equal(runs[1]!.env.GREETING, undefined);
  });

  it('ARG values see ENV and earlier names of the same line', () => {
    const { runs } = simulate('FROM alpine\nENV E=e\nARG a=1 b=$a-$E\nRUN x\n');
    assert.equal(runs[0]!.env.b, '1-e');
  });

  it("BuildKit's SBOM args never reach the environment", () => {
    const { runs } = simulate('FROM alpine\nARG BUILDKIT_SBOM_SCAN_STAGE=true\nRUN x\n');
    assert.equal(runs[0]!.env.BUILDKIT_SBOM_SCAN_STAGE, undefined);
    assert.deepEqual(runs[0]!.declared, ['BUILDKIT_SBOM_SCAN_STAGE=true']);
  });
});
