// Run as its own Node process by conmon-lifecycle.test.ts: starts a container under conmon, prints
// {"pid", "conmonPid"} and exits, leaving the container to conmon.

import type { ConmonLocation } from '../../../../src/runtime/conmon.ts';
import { createWithConmon } from '../../../../src/runtime/conmon.ts';
import { OciRuntimeDriver, type OciRuntimeDriverOptions } from '../../../../src/runtime/runtime-driver.ts';

const input = JSON.parse(process.argv[2]!) as {
  driver: OciRuntimeDriverOptions;
  location: ConmonLocation;
  logPath: string;
  conmonCgroup: string;
};
const runtime = new OciRuntimeDriver(input.driver);
const started = await createWithConmon({
  ...input.location,
  runtime,
  logPath: input.logPath,
  conmonCgroup: input.conmonCgroup,
});
await runtime.start(input.location.id);
process.stdout.write(`${JSON.stringify(started)}\n`);
