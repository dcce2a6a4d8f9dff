/**
 * Opens the in-process engine on the CLI's store root for one command and closes it after,
 * whatever happens. The engine module is imported here, lazily, so verbs that never touch the
 * store (`version`, `--help`) do not pay for SQLite.
 *
 * @example
 * await withEngine(context, async (engine) => context.stdout.write(`${(await engine.images.list()).length}\n`));
 */
import type { LocalEngine } from '../engine/local-engine.ts';
import type { CliContext } from './context.ts';

export async function withEngine<T>(
  context: CliContext,
  fn: (engine: LocalEngine) => Promise<T>,
): Promise<T> {
  const { openLocalEngine } = await import('../engine/local-engine.ts');
  const engine = await openLocalEngine({ root: context.root() });
  try {
    return await fn(engine);
  } finally {
    engine.close();
  }
}
