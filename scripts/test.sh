#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up (idempotent), type check, lint and layering, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc --noEmit -p .
npx biome check src test scripts bench
npx depcruise src --config .dependency-cruiser.cjs
node scripts/run-tests.mjs test/unit test/integration test/conformance
