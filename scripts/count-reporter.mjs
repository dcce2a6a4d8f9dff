// A node:test reporter that counts leaf tests by outcome and writes the counts as JSON to its
// destination at the end; scripts/run-tests.mjs reads them to print the totals and to fail a CI
// run that skipped anything.
export default async function* countReporter(source) {
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0, skippedNames: [] };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (event.data.details?.type === 'suite') continue;
    if (event.data.skip !== undefined) {
      counts.skipped++;
      counts.skippedNames.push(
        `${event.data.name}${typeof event.data.skip === 'string' ? ` (${event.data.skip})` : ''}`,
      );
    } else if (event.data.todo !== undefined) {
      counts.todo++;
      counts.skippedNames.push(`${event.data.name} (todo)`);
    } else if (event.type === 'test:pass') counts.passed++;
    else counts.failed++;
  }
  yield `${JSON.stringify(counts)}\n`;
}
