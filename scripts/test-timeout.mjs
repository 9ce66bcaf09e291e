// Preloaded into every test process (`node --import`): gives each `test()` a default timeout, so one hung test
// fails on its own instead of stalling its file. Node 20's --test-timeout applies to a whole file, and node:test
// has no default per test, so `test` is wrapped here; a test that sets its own `timeout` keeps it.
//
// node:test records the frame that calls it as the test's location, which the reporter uses to count tests per
// file. The wrapper therefore calls the harness through a function compiled with the test file as its source URL:
// the location stays the test file, not this one.
//
// It also makes the process's stdout blocking when it is a pipe. A test process sends its results to the runner
// over that pipe, and forceExit (scripts/test-run.mjs) ends the process with process.exit() as soon as its last
// test finishes: writes still queued on a non-blocking pipe were dropped with it, and the reporter counted the
// file's last tests as never finished (seen on goldens_integrity; nodejs/node#64833).
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';

if (process.env.NODE_TEST_CONTEXT) process.stdout._handle?.setBlocking?.(true);

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
