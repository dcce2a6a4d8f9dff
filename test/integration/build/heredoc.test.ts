// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text holds ${...} on purpose
// Heredocs executed (RUN) and written (COPY), on real builds, as BuildKit's
// dockerfile_heredoc_test.go checks them. Each test names the items of
// shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';

const skip = buildTestsMissing();

describe('build: heredocs', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('52: RUN <<EOF runs the body as a script in the current shell', async () => {
    const image = await fx.build(
      'FROM busybox\nRUN <<EOF\necho "i am" >> /dest\nid -u >> /dest\nEOF\nSHELL ["/bin/sh", "-e", "-c"]\nRUN <<EOF\necho "shell: $0" > /shell\nEOF\n',
    );
    assert.equal(await image.read('/dest'), 'i am\n0\n');
    assert.equal(await image.read('/shell'), 'shell: /bin/sh\n');
    assert.match(image.output, /\] RUN <<EOF \(echo "i am" >> \/dest\.\.\.\)/);
  });

  it('53: under SHELL ["/bin/awk"] the body is given to that program', async () => {
    const image = await fx.build(
      'FROM busybox\nSHELL ["/bin/awk"]\nRUN <<EOF\nBEGIN {\n\tprint "foo" > "/dest"\n}\nEOF\n',
    );
    assert.equal(await image.read('/dest'), 'foo\n');
  });

  it('54: a #! body is written to a file and run by its interpreter, with <<- too; nothing stays in the image', async () => {
    const image = await fx.build(
      [
        'FROM busybox',
        'WORKDIR /dest',
        'RUN <<EOF',
        '#!/bin/awk -f',
        'BEGIN {',
        '\tprint "hello" >> "./out1"',
        '\tprint "world" >> "./out1"',
        '}',
        'EOF',
        'RUN <<-EOF',
        '\t#!/bin/awk -f',
        '\tBEGIN {',
        '\t\tprint "hello" >> "./out2"',
        '\t\tprint "world" >> "./out2"',
        '\t}',
        'EOF',
        'RUN <<EOF',
        '#!/bin/sh',
        'echo "$0" > /dest/self',
        'EOF',
      ].join('\n'),
    );
    assert.equal(await image.read('/dest/out1'), 'hello\nworld\n');
    assert.equal(await image.read('/dest/out2'), 'hello\nworld\n');
    assert.equal(await image.read('/dest/self'), '/dev/pipes/EOF\n');
    for (let i = 0; i < image.config.rootfs.diff_ids.length; i++) {
      const listing = await image.layerListing(i);
      assert.ok(!listing.some((l) => /dev\/pipes/.test(l)), listing.join('\n'));
    }
  });

  it('55: several heredocs in one RUN: pipelines, a continuation, numbered descriptors', async () => {
    const image = await fx.build(
      [
        'FROM busybox',
        'WORKDIR /dest',
        "RUN cat <<EOF1 | tr '[:upper:]' '[:lower:]' > ./out1; \\",
        "\tcat <<EOF2 | tr '[:lower:]' '[:upper:]' > ./out2",
        'hello WORLD',
        'EOF1',
        'HELLO world',
        'EOF2',
        'RUN <<EOF 3<<IN1 4<<IN2 awk -f -',
        'BEGIN {',
        '\twhile ((getline line < "/proc/self/fd/3") > 0)',
        '\t\tprint tolower(line) > "./fd3"',
        '\twhile ((getline line < "/proc/self/fd/4") > 0)',
        '\t\tprint toupper(line) > "./fd4"',
        '}',
        'EOF',
        'hello WORLD',
        'IN1',
        'HELLO world',
        'IN2',
      ].join('\n'),
    );
    assert.equal(await image.read('/dest/out1'), 'hello world\n');
    assert.equal(await image.read('/dest/out2'), 'HELLO WORLD\n');
    assert.equal(await image.read('/dest/fd3'), 'hello world\n');
    assert.equal(await image.read('/dest/fd4'), 'HELLO WORLD\n');
  });

  it('56: <<EOF keeps leading tabs and <<-EOF strips them, in COPY and RUN', async () => {
    const image = await fx.build(
      [
        'FROM busybox',
        'COPY <<EOF /dest/foo-copy',
        '\tfoo',
        'EOF',
        'COPY <<-EOF /dest/bar-copy',
        '\tbar',
        'EOF',
        'RUN <<EOF',
        'echo "',
        '\tfoo" > /dest/foo-run',
        'EOF',
        'RUN <<-EOF',
        'echo "',
        '\tbar" > /dest/bar-run',
        'EOF',
        'RUN <<EOF',
        '#!/bin/sh',
        'echo "',
        '\tfoo" > /dest/foo2-run',
        'EOF',
        'RUN <<-EOF',
        '#!/bin/sh',
        'echo "',
        '\tbar" > /dest/bar2-run',
        'EOF',
        'RUN <<EOF sh > /dest/foo3-run',
        'echo "',
        '\tfoo"',
        'EOF',
        'RUN <<-EOF sh > /dest/bar3-run',
        'echo "',
        '\tbar"',
        'EOF',
      ].join('\n'),
    );
    const expected: Record<string, string> = {
      'foo-copy': '\tfoo\n',
      'foo-run': '\n\tfoo\n',
      'foo2-run': '\n\tfoo\n',
      'foo3-run': '\n\tfoo\n',
      'bar-copy': 'bar\n',
      'bar-run': '\nbar\n',
      'bar2-run': '\nbar\n',
      'bar3-run': '\nbar\n',
    };
    for (const [name, content] of Object.entries(expected)) {
      assert.equal(await image.read(`/dest/${name}`), content, name);
    }
  });

  it('57, 85: ARG values reach RUN heredocs as environment (a script variable shadows them); COPY bodies expand unless the word is quoted', async () => {
    const image = await fx.build(
      [
        'FROM busybox',
        'ARG name=world',
        'COPY <<EOF /dest/c1',
        'Hello ${name}!',
        'EOF',
        "COPY <<'EOF' /dest/c2",
        'Hello ${name}!',
        'EOF',
        'COPY <<"EOF" /dest/c3',
        'Hello ${name}!',
        'EOF',
        'COPY <<EOF /dest/q1',
        "Hello '${name}'!",
        'EOF',
        'COPY <<EOF /dest/q2',
        'Hello "${name}"!',
        'EOF',
        "COPY <<'EOF' /dest/qsingle",
        "Hello '${name}'!",
        'EOF',
        'COPY <<"EOF" /dest/qdouble',
        'Hello "${name}"!',
        'EOF',
        'RUN <<EOF',
        'greeting="Hello"',
        'echo "${greeting} ${name}!" > /dest/r1',
        'EOF',
        'RUN <<EOF',
        'name="new world"',
        'echo "Hello ${name}!" > /dest/r2',
        'EOF',
      ].join('\n'),
    );
    const expected: Record<string, string> = {
      c1: 'Hello world!\n',
      c2: 'Hello ${name}!\n',
      c3: 'Hello ${name}!\n',
      q1: "Hello 'world'!\n",
      q2: 'Hello "world"!\n',
      qsingle: "Hello '${name}'!\n",
      qdouble: 'Hello "${name}"!\n',
      r1: 'Hello world!\n',
      r2: 'Hello new world!\n',
    };
    for (const [name, content] of Object.entries(expected)) {
      assert.equal(await image.read(`/dest/${name}`), content, name);
    }
  });

  it('83: COPY <<EOF makes inline files: several into a directory, --chmod and --chown; a heredoc destination fails', async () => {
    const image = await fx.build(
      [
        'FROM busybox',
        "RUN echo 'user:x:1000:1000::/home/user:/bin/sh' >> /etc/passwd && echo 'user:x:1000:' >> /etc/group",
        'WORKDIR /dest',
        'COPY <<EOF single',
        'single file',
        'EOF',
        'COPY <<EOF <<EOF2 double/',
        'first file',
        'EOF',
        'second file',
        'EOF2',
        'COPY --chmod=777 <<EOF /permfiles/all',
        'dummy content',
        'EOF',
        'COPY --chmod=0644 <<EOF /permfiles/rw',
        'dummy content',
        'EOF',
        'COPY --chown=user:user <<EOF /permfiles/owned',
        'dummy content',
        'EOF',
        'RUN stat -c "%04a" /permfiles/all >> perms && stat -c "%04a" /permfiles/rw >> perms && stat -c "%U:%G" /permfiles/owned >> perms && stat -c "%04a" /dest/single >> perms',
      ].join('\n'),
    );
    assert.equal(await image.read('/dest/single'), 'single file\n');
    assert.equal(await image.read('/dest/double/EOF'), 'first file\n');
    assert.equal(await image.read('/dest/double/EOF2'), 'second file\n');
    assert.equal(await image.read('/dest/perms'), '0777\n0644\nuser:user\n0644\n');
    assert.match(
      image.config.history!.find((h) => h.created_by?.includes('double/'))!.created_by!,
      /^COPY <<EOF <<EOF2 double\/ # buildkit$/,
    );
    const { error } = await fx.fails('FROM busybox\nCOPY a <<EOF\nx\nEOF\n', { a: '' });
    assert.match(error.message, /heredoc/);
  });

  it('84: unquoted COPY bodies process backslash escapes; <<"EOF" keeps the body raw', async () => {
    const image = await fx.build(
      [
        'FROM busybox',
        'COPY <<EOF /quotefile',
        '"quotes in file"',
        'EOF',
        'COPY <<EOF /slashfile1',
        '\\',
        'EOF',
        'COPY <<EOF /slashfile2',
        '\\\\',
        'EOF',
        'COPY <<EOF /slashfile3',
        '\\$',
        'EOF',
        'COPY <<"EOF" /rawslashfile1',
        '\\',
        'EOF',
        'COPY <<"EOF" /rawslashfile2',
        '\\\\',
        'EOF',
        'COPY <<"EOF" /rawslashfile3',
        '\\$',
        'EOF',
      ].join('\n'),
    );
    const expected: Record<string, string> = {
      quotefile: '"quotes in file"\n',
      slashfile1: '\n',
      slashfile2: '\\\n',
      slashfile3: '$\n',
      rawslashfile1: '\\\n',
      rawslashfile2: '\\\\\n',
      rawslashfile3: '\\$\n',
    };
    for (const [name, content] of Object.entries(expected)) {
      assert.equal(await image.read(`/${name}`), content, name);
    }
  });

  it('109: ONBUILD triggers may use heredocs and cache mounts', async () => {
    await fx.build(
      [
        'FROM busybox',
        'ONBUILD RUN <<EOF',
        'echo "hello world" >> /dest',
        'EOF',
        'ONBUILD RUN --mount=type=cache,id=onbuild-cache,target=/cache echo trig >> /cache/log && cp /cache/log /cache-seen',
      ].join('\n'),
      {},
      { tags: ['onbuild-heredoc:1'] },
    );
    const child = await fx.build('FROM onbuild-heredoc:1\n');
    assert.equal(await child.read('/dest'), 'hello world\n');
    assert.equal(await child.read('/cache-seen'), 'trig\n');
    assert.equal(child.config.config?.OnBuild, undefined);
  });
});
