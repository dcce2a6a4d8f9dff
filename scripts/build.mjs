// Builds the `wharf` binary with esbuild into dist/:
//   launcher.cjs     the entry bin/wharf requires (src/cli/launcher.ts): answers --version, else
//                    loads wharf.cjs; wharf.mjs does the same for `node dist/wharf.mjs`
//   wharf.cjs        the whole CLI as one CommonJS script (src/cli/cli-bundle.ts), its modules
//                    still initialised lazily, one verb's at a time
//   wharf.cjs.cache  V8's code cache for wharf.cjs, made by running the bundle's warm-up in a
//                    process of its own (src/cli/bundle-loader.ts says why and how it is checked)
//   verbs/NAME.cjs   one command module's bundle (src/cli/module-bundle.ts), for each module a
//                    verb names (src/cli/verb-modules.ts), with its own NAME.cjs.cache: what the
//                    launcher runs that module's verbs with (docs/cli-startup.md)
// and, later, <bundle>.<verb>.cache: the caches hot verbs learn at their first successful run
// (bundle-loader.ts), which the rename of a new build's dist/ discards with the old bundle.
// One script with a code cache rather than ES module chunks: Node 20 compiles every ES module
// from source at every start (it has no module compile cache before 22), which was most of a
// verb's start-up (docs/cli-startup.md has the measurements, and why not a V8 startup snapshot).
//
// Pure-JS dependencies are bundled (resolving commander from node_modules at every start costs
// tens of ms); worker-based ones (pino), the big servers and what only the registry server uses
// (zod, bcryptjs: zod v4 alone was 617 KB, 29% of the bundle, read and deserialized by every
// command for the sake of `registry serve`) stay external, required from node_modules when a
// verb needs them. better-sqlite3's JavaScript is bundled too, and its native
// addon is loaded from its known place in node_modules instead of through the `bindings` package,
// whose search (a stack trace to find the caller, then failed require()s of build/ and
// build/Debug/) plus loading a dozen CommonJS files through Node's loader cost several ms in every
// verb that opens a database.
// Builds into a temp directory and renames it over dist/, so a test running the binary never sees
// a half-written dist/.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { build } from 'esbuild';

/**
 * Replaces `require('bindings')('better_sqlite3.node')` in better-sqlite3 with a direct require
 * of its addon from node_modules (resolved from dist/ at run time, as the external package was).
 */
const sqliteAddonPlugin = {
  name: 'better-sqlite3-addon',
  setup(build) {
    build.onResolve({ filter: /^bindings$/ }, (args) => {
      if (!args.importer.includes('/node_modules/better-sqlite3/')) return undefined;
      return { path: 'better-sqlite3-addon', namespace: 'wharf-sqlite-addon' };
    });
    build.onLoad({ filter: /.*/, namespace: 'wharf-sqlite-addon' }, () => ({
      loader: 'js',
      contents: `
        module.exports = function loadAddon(name) {
          let missing;
          for (const dir of ['Release', 'Debug']) {
            try {
              return require('better-sqlite3/build/' + dir + '/' + name);
            } catch (error) {
              if (error?.code !== 'MODULE_NOT_FOUND') throw error;
              missing = error;
            }
          }
          throw missing;
        };`,
    }));
  },
};

/**
 * commander requires node:child_process at load, for executable subcommands (`git-style`), which
 * Wharf does not use; loading it loads net, stream and dgram, 3.5-4 ms of every command, and
 * `wharf exec` needs none of them (src/util/fd-spawn.ts). In the bundles, commander gets the
 * module on first use instead: a stand-in whose `spawn` loads it then.
 */
const lazyChildProcessForCommander = {
  name: 'commander-lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) => {
      if (!args.importer.includes('/node_modules/commander/')) return undefined;
      return { path: 'commander-child-process', namespace: 'wharf-lazy-child-process' };
    });
    build.onLoad({ filter: /.*/, namespace: 'wharf-lazy-child-process' }, () => ({
      loader: 'js',
      contents: `module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };`,
    }));
  },
};

/**
 * bundle-loader.ts reads an ASCII bundle as latin1, 4-5 ms faster than as UTF-8. esbuild escapes
 * non-ASCII characters in strings and identifiers, and whitespace minifying drops the comments,
 * but it leaves regular expression literals as they are: say where one needs a \uXXXX escape.
 */
function warnNonAscii(text) {
  const found = [...text.matchAll(/[^\x00-\x7f]/g)].slice(0, 5);
  for (const match of found) {
    const line = text.slice(text.lastIndexOf('\n', match.index) + 1, text.indexOf('\n', match.index));
    const column = match.index - text.lastIndexOf('\n', match.index) - 1;
    console.warn(
      `warning: non-ASCII ${JSON.stringify(match[0])} in the CLI bundle (it then loads as UTF-8, ` +
        `slower): ${JSON.stringify(line.slice(Math.max(0, column - 60), column + 20))}`,
    );
  }
}

/** The command modules (src/cli/verb-modules.ts's values), read through esbuild: this is .mjs. */
async function commandModules() {
  const result = await build({
    stdin: {
      contents: "export { VERB_MODULES } from './src/cli/verb-modules.ts';",
      resolveDir: '.',
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    write: false,
    logLevel: 'warning',
  });
  const url = `data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString('base64')}`;
  const { VERB_MODULES } = await import(url);
  return [...new Set(Object.values(VERB_MODULES))].sort();
}

/** Builds one CLI bundle (`entry`: esbuild's entryPoints or stdin) into `outfile`, id line last. */
async function buildCliBundle(entry, outfile) {
  const bundle = await build({
    ...common,
    ...entry,
    outfile,
    format: 'cjs',
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__wharf_import_meta_url' },
    banner: { js: "var __wharf_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    external: ['pino', 'thread-stream', 'fastify', 'undici', '@fastify/*', 'zod', 'bcryptjs'],
    plugins: [sqliteAddonPlugin, lazyChildProcessForCommander],
    minifyWhitespace: true,
    sourcemap: 'linked',
    write: false,
    metafile: true,
  });
  for (const output of Object.values(bundle.metafile.outputs)) {
    const left = output.imports.filter((entry) => entry.kind === 'dynamic-import');
    if (left.length > 0) {
      throw new Error(
        `Cannot build the CLI bundle: import() of ${left.map((e) => e.path).join(', ')} is left`,
      );
    }
  }
  for (const file of bundle.outputFiles) {
    await mkdir(dirname(file.path), { recursive: true });
    if (!file.path.endsWith('.cjs')) {
      await writeFile(file.path, file.contents);
      continue;
    }
    warnNonAscii(file.text);
    // The id that ties the code cache to this bundle (the format is in bundle-loader.ts).
    const id = createHash('sha256').update(file.contents).digest('hex');
    await writeFile(file.path, Buffer.concat([file.contents, Buffer.from(`\n//# wharf-bundle-id=${id}\n`)]));
  }
}

/** Writes `<file>.cache` in a process of its own (its warm-up prints help: stdout goes nowhere). */
function writeCache(file, installedName) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [`${temp}/.write-code-cache.mjs`, file, installedName], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolvePromise()
        : reject(new Error(`Cannot build the code cache of ${file}: exit ${code ?? signal}`)),
    );
  });
}

/** Runs the `tasks` with at most `limit` at once. */
async function inParallel(tasks, limit) {
  const queue = [...tasks];
  const worker = async () => {
    while (queue.length > 0) await queue.shift()();
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const temp = `dist.tmp-${process.pid}`;
const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };
try {
  // The entry: small, so `wharf --version` costs little more than `node -e 0`.
  await build({
    ...common,
    entryPoints: ['src/cli/launcher.ts'],
    outfile: `${temp}/launcher.cjs`,
    format: 'cjs',
    define: { 'import.meta.url': '__wharf_import_meta_url' },
    banner: { js: "var __wharf_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  });
  await writeFile(
    `${temp}/wharf.mjs`,
    "#!/usr/bin/env node\nimport { createRequire } from 'node:module';\n" +
      "createRequire(import.meta.url)('./launcher.cjs');\n",
  );
  await chmod(`${temp}/wharf.mjs`, 0o755);

  // The CLI bundles: the whole CLI (wharf.cjs), and one per command module (verbs/NAME.cjs,
  // src/cli/module-bundle.ts) holding that module's code only, which the launcher runs when the
  // verb is that module's. Dynamic import() becomes a require() of the lazily initialised module
  // (the script runs through vm.Script, where a real import() has no loader), and import.meta.url
  // (src/build/fs/copy.ts) the bundle's own URL.
  const modules = await commandModules();
  const entries = [
    { out: 'wharf.cjs', entry: { entryPoints: ['src/cli/cli-bundle.ts'] } },
    ...modules.map((name) => ({
      out: `verbs/${name}.cjs`,
      entry: {
        stdin: {
          contents:
            `import * as commands from './src/cli/commands/${name}.ts';\n` +
            `import { moduleBundle } from './src/cli/module-bundle.ts';\n` +
            `export const { runCli, warmUp } = moduleBundle(${JSON.stringify(name)}, commands);\n`,
          resolveDir: '.',
          sourcefile: `wharf-verbs-${name}.ts`,
          loader: 'ts',
        },
      },
    })),
  ];
  await Promise.all(entries.map(({ out, entry }) => buildCliBundle(entry, `${temp}/${out}`)));

  // The code caches, each made by a process of its own that runs its bundle's warm-up.
  await build({
    ...common,
    stdin: {
      contents: `import { writeCodeCache } from './src/cli/bundle-loader.ts';
        await writeCodeCache(process.argv[2], process.argv[3]);`,
      resolveDir: '.',
      loader: 'ts',
    },
    outfile: `${temp}/.write-code-cache.mjs`,
    format: 'esm',
  });
  // (the warm-up prints every verb's help: stdout goes nowhere)
  // (named as the bundle will be once dist/ is in place: V8 keeps the name a cache was made under)
  await inParallel(
    entries.map(
      ({ out }) =>
        () =>
          writeCache(`${temp}/${out}`, resolve(`dist/${out}`)),
    ),
    2,
  );
  await rm(`${temp}/.write-code-cache.mjs`);

  const old = `dist.old-${process.pid}`;
  await rename('dist', old).catch(() => {});
  await rename(temp, 'dist');
  await rm(old, { recursive: true, force: true });
} catch (error) {
  await rm(temp, { recursive: true, force: true });
  throw error;
}
