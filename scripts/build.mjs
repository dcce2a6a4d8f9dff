// Bundles the CLI with esbuild: one small entry (fast `--version`), one chunk per lazily loaded
// command. Pure-JS dependencies are bundled (resolving zod or commander from node_modules at
// every start costs tens of ms); native or worker-based ones (better-sqlite3, pino) and the big
// servers stay external. Builds into a temp directory and renames it over dist/, so a test running
// the binary never sees a half-written dist/.

import { chmod, rename, rm } from 'node:fs/promises';
import { build } from 'esbuild';

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
  external: ['better-sqlite3', 'pino', 'thread-stream', 'fastify', 'undici', '@fastify/*'],
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
