// Run as its own Node process by conmon-lifecycle.test.ts: stops a container started by another
// process (stop signal, then SIGKILL after the timeout) and prints its exit as JSON.
import { type ConmonLocation, stopContainer } from '../../../../src/runtime/conmon.ts';
import { OciRuntimeDriver, type OciRuntimeDriverOptions } from '../../../../src/runtime/runtime-driver.ts';

const input = JSON.parse(process.argv[2]!) as {
  driver: OciRuntimeDriverOptions;
  location: ConmonLocation;
  timeoutMs: number;
};
const runtime = new OciRuntimeDriver(input.driver);
const started = Date.now();
const exit = await stopContainer(input.location, runtime, { timeoutMs: input.timeoutMs });
process.stdout.write(`${JSON.stringify({ ...exit, elapsedMs: Date.now() - started })}\n`);
