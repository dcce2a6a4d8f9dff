// Run under `script -qfc` by runtime-driver.test.ts: an attached terminal exec through the driver,
// its stdio being the pty that script provides. Exits with the exec'd process's code.

import type { RuntimeProcess } from '../../../../src/runtime/oci-runtime-spec.ts';
import { OciRuntimeDriver, type OciRuntimeDriverOptions } from '../../../../src/runtime/runtime-driver.ts';

const input = JSON.parse(process.argv[2]!) as {
  driver: OciRuntimeDriverOptions;
  id: string;
  process: RuntimeProcess;
};
const runtime = new OciRuntimeDriver(input.driver);
const session = await runtime.exec(input.id, input.process, { stdio: 'inherit' });
process.exitCode = await session.exitCode;
