// Preloaded into every test process (`node --import`): gives each `test()` a default timeout, so one hung test
// fails on its own instead of stalling its file. Node 20's --test-timeout applies to a whole file, and node:test
// has no default per test, so `test` is wrapped here; a test that sets its own `timeout` keeps it.
//
// node:test records the frame that calls it as the test's location, which the reporter uses to count tests per
// file. The wrapper therefore calls the harness through a function compiled with the test file as its source URL:
// the location stays the test file, not this one.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';

const file = process.argv[1];
const timeout = Number(process.env.MOBILESSD_TEST_TIMEOUT_MS ?? 600_000);
if (file && timeout > 0) {
  const nodeTest = createRequire(import.meta.url)('node:test');
  const harness = nodeTest.test;
  const call = (0, eval)(`(test, name, options, fn) => test(name, options, fn)\n//# sourceURL=${pathToFileURL(file)}`);
  nodeTest.test = (...args) => {
    const name = typeof args[0] === 'string' ? args.shift() : undefined;
    const options = typeof args[0] === 'object' && args[0] !== null ? args.shift() : {};
    return call(harness, name, { timeout, ...options }, args[0]);
  };
  syncBuiltinESMExports();
}
