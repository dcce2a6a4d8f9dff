import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyConfigChanges } from '../../../src/image/config-changes.ts';

describe('import/commit changes (-c)', () => {
  it('applies exec and shell forms of CMD and ENTRYPOINT', () => {
    assert.deepEqual(applyConfigChanges({}, ['CMD ["sh", "-c", "echo hi"]']).Cmd, ['sh', '-c', 'echo hi']);
    const shell = applyConfigChanges({}, ['CMD echo "hello world"']);
    assert.deepEqual(shell.Cmd, ['/bin/sh', '-c', 'echo "hello world"']);
    const entry = applyConfigChanges({ Cmd: ['old'] }, ['ENTRYPOINT ["/bin/app"]']);
    assert.deepEqual(entry.Entrypoint, ['/bin/app']);
    assert.equal(entry.Cmd, null); // a new entrypoint drops the inherited CMD
    const both = applyConfigChanges({}, ['CMD ["x"]', 'ENTRYPOINT ["y"]']);
    assert.deepEqual([both.Entrypoint, both.Cmd], [['y'], ['x']]);
    // not valid JSON: shell form, as Docker falls back
    assert.deepEqual(applyConfigChanges({}, ['CMD [oops']).Cmd, ['/bin/sh', '-c', '[oops']);
  });

  it('sets ENV in both forms, with quotes and expansion', () => {
    const config = applyConfigChanges({ Env: ['PATH=/bin'] }, [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
      'ENV A=1 B="two words" C=\'$A\' D=${A}x',
      'ENV PATH=/usr/bin:$PATH',
      'ENV LEGACY value with spaces',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
      'ENV E=${MISSING:-fallback} F=${A:+set} G=${A}x',
    ]);
    assert.deepEqual(config.Env, [
      'PATH=/usr/bin:/bin',
      'A=1',
      'B=two words',
      'C=$A',
      'D=x', // one ENV expands against the environment before it, as Docker's does
      'LEGACY=value with spaces',
      'E=fallback',
      'F=set',
      'G=1x',
    ]);
  });

  it('sets LABEL, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, ONBUILD', () => {
    const config = applyConfigChanges({}, [
      'LABEL a=b "c d"="e f"',
      'EXPOSE 80 443/udp 8000-8002',
      'VOLUME ["/data", "/logs"]',
      'VOLUME /cache',
      'USER nobody',
      'WORKDIR /app',
      'WORKDIR sub',
      'STOPSIGNAL SIGTERM',
      'ONBUILD RUN echo hi',
    ]);
    assert.deepEqual(config.Labels, { a: 'b', 'c d': 'e f' });
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}), [
      '80/tcp',
      '443/udp',
      '8000/tcp',
      '8001/tcp',
      '8002/tcp',
    ]);
    assert.deepEqual(Object.keys(config.Volumes ?? {}), ['/data', '/logs', '/cache']);
    assert.equal(config.User, 'nobody');
    assert.equal(config.WorkingDir, '/app/sub');
    assert.equal(config.StopSignal, 'SIGTERM');
    assert.deepEqual(config.OnBuild, ['RUN echo hi']);
  });

  it('accepts several instructions in one change, one per line, case-insensitively', () => {
    const config = applyConfigChanges({}, ['env A=1\nuser 1000']);
    assert.deepEqual(config.Env, ['A=1']);
    assert.equal(config.User, '1000');
  });

  it('refuses what Docker refuses, naming the change', () => {
    assert.throws(
      () => applyConfigChanges({}, ['FROM busybox']),
      /Cannot apply change "FROM busybox": FROM is not a valid change command/,
    );
    assert.throws(() => applyConfigChanges({}, ['RUN echo']), /RUN is not a valid change command/);
    assert.throws(() => applyConfigChanges({}, ['EXPOSE abc']), /invalid containerPort: abc/);
    assert.throws(() => applyConfigChanges({}, ['ENV =x']), /ENV names can not be blank/);
    assert.throws(() => applyConfigChanges({}, ['ENV A="open']), /matching double-quote/);
    assert.throws(() => applyConfigChanges({}, ['USER a b']), /exactly one argument/);
    assert.throws(() => applyConfigChanges({}, ['ONBUILD FROM x']), /isn't allowed as an ONBUILD trigger/);
  });
});
