// Runs test files, each in its own process, through the project reporter (scripts/test-reporter.mjs); exits 1
// when anything failed or went missing. Start it with `--import scripts/test-timeout.mjs` (the per-test timeout;
// node passes its own flags on to each test process):
//   node --enable-source-maps --import ./scripts/test-timeout.mjs scripts/test-run.mjs FILE...
// Limits: MOBILESSD_TEST_TIMEOUT_MS per test (10 min), MOBILESSD_TEST_FILE_TIMEOUT_MS per file (30 min).
//
// This is node:test's run() rather than `node --test` for forceExit: a test that timed out may leave a timer or
// socket alive, and only forceExit ends its process then; `node --test --test-force-exit` on Node 20 also ends
// the reporter before it writes its summary, so the flag is given to the test processes alone.
import { run } from 'node:test';
import reporter from './test-reporter.mjs';

const files = process.argv.slice(2);
const fileTimeout = Number(process.env.MOBILESSD_TEST_FILE_TIMEOUT_MS ?? 1_800_000);
run({ files, concurrency: true, forceExit: true, timeout: fileTimeout })
  .compose(reporter)
  .on('error', (e) => {
    console.error(`[mobilessd] the test reporter failed: ${e.stack}`);
    process.exitCode = 1;
  })
  .pipe(process.stdout);
