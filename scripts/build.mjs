// Bundles the CLI with esbuild: one small entry (fast `--version`), one chunk per lazily loaded
// command. Pure-JS dependencies are bundled (resolving zod or commander from node_modules at
// every start costs tens of ms); worker-based ones (pino) and the big servers stay external.
// better-sqlite3's JavaScript is bundled too, and its native addon is loaded from its known place
// in node_modules instead of through the `bindings` package, whose search (a stack trace to find
// the caller, then failed require()s of build/ and build/Debug/) plus loading a dozen CommonJS
// files through Node's loader cost several ms in every verb that opens a database.
// Builds into a temp directory and renames it over dist/, so a test running the binary never sees
// a half-written dist/.

import { chmod, rename, rm } from 'node:fs/promises';
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

const temp = `dist.tmp-${process.pid}`;
await build({
  entryPoints: { wharf: 'src/cli/main.ts' },
  outdir: temp,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['pino', 'thread-stream', 'fastify', 'undici', '@fastify/*'],
  plugins: [sqliteAddonPlugin],
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies bundled into ESM still call require() for node builtins.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __wharfCreateRequire } from 'node:module';\nconst require = __wharfCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
await chmod(`${temp}/wharf.mjs`, 0o755);
const old = `dist.old-${process.pid}`;
await rename('dist', old).catch(() => {});
await rename(temp, 'dist');
await rm(old, { recursive: true, force: true });
