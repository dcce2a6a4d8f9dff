// The verb -> command module map the launcher picks a bundle by (src/cli/verb-modules.ts), and
// the hand-on of a command line from one module to another (runCli's ContinueInGroup).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { ContinueInGroup } from '../../../src/cli/cli-error.ts';
import { type CommandTable, MODULE_LOADERS } from '../../../src/cli/command-table.ts';
import { runCli } from '../../../src/cli/run-cli.ts';
import { commandModuleOf, findVerb, VERB_MODULES } from '../../../src/cli/verb-modules.ts';

const context = {
  root: () => '/nonexistent',
  debug: () => false,
  stdout: process.stdout,
  stderr: process.stderr,
};

describe('verb modules', () => {
  it('finds the verb after global flags, and the module whose bundle runs the line', () => {
    assert.deepEqual(findVerb(['--root', '/r', '-D', 'ps', '-a']), { verb: 'ps', index: 3, help: false });
    assert.deepEqual(findVerb(['--help', 'ps']), { verb: 'ps', index: 1, help: true });
    assert.deepEqual(findVerb(['--debug']), { verb: undefined, index: -1, help: false });
    assert.equal(commandModuleOf(['exec', '-it', 'web', 'sh']), 'exec');
    assert.equal(commandModuleOf(['-H', 'unix:///s', 'ps']), 'container');
    assert.equal(commandModuleOf(['container', 'exec', 'web', 'ls']), 'container');
    assert.equal(commandModuleOf(['images']), 'images');
    // no verb, an unknown one, help before the verb, or a name of Object's prototype: the whole CLI
    assert.equal(commandModuleOf([]), undefined);
    assert.equal(commandModuleOf(['no-such-verb']), undefined);
    assert.equal(commandModuleOf(['--help', 'ps']), undefined);
    assert.equal(commandModuleOf(['constructor']), undefined);
  });

  it('maps every verb to a module that registers it', async () => {
    for (const [verb, module] of Object.entries(VERB_MODULES)) {
      const program = new Command('wharf').enablePositionalOptions();
      (await MODULE_LOADERS[module]()).register(program, context);
      const names = program.commands.flatMap((command) => [command.name(), ...command.aliases()]);
      assert.ok(names.includes(verb), `${module} does not register ${verb}`);
    }
  });
});

describe('a command line handed on to its management group', () => {
  const ran: string[][] = [];
  /** A module with a top-level `act` that hands on, and the `grp act` that runs the command. */
  const topLevel = async () => ({
    register(program: Command) {
      program
        .command('act')
        .argument('<name>')
        .action(() => {
          throw new ContinueInGroup('grp');
        });
    },
  });
  const group = async () => ({
    register(program: Command) {
      program
        .command('grp')
        .command('act')
        .argument('<name>')
        .action((name: string) => {
          ran.push(['grp act', name]);
        });
    },
  });

  it('is returned to the launcher when the table lacks the group, the group inserted before the verb', async () => {
    const moduleTable: CommandTable = { act: topLevel };
    assert.deepEqual(await runCli(['--root', '/r', 'act', 'x'], moduleTable), {
      continueWith: ['--root', '/r', 'grp', 'act', 'x'],
    });
    assert.deepEqual(ran, []);
  });

  it('runs within the table when it has the group', async () => {
    const wholeTable: CommandTable = { act: topLevel, grp: group };
    assert.equal(await runCli(['--root', '/r', 'act', 'y'], wholeTable), 0);
    assert.deepEqual(ran, [['grp act', 'y']]);
  });
});
