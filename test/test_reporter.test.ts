/**
 * The test runner cannot lose tests: scripts/test-run.mjs with the project reporter, run on small fixture test
 * files, turns red when a file exits early (before or after reporting), when a test hangs (the per-test timeout,
 * and the file still ends), and when a check that ran before the tests failed; stays green on a clean file; and
 * receives every verdict of a file that reports megabytes before its forced exit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';

const ROOT = process.env.MOBILESSD_ROOT ?? process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'mobilessd-reporter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURES: Record<string, string> = {
  'clean.test.mjs': `test('one', () => {});\ntest('two', async () => {});`,
  // Exits with status 0 in its second test: the third never runs, node reports the file as passed.
  'exit_midway.test.mjs': `test('one', () => {});
test('two', async () => { await new Promise((r) => setTimeout(r, 50)); process.exit(0); });
test('three', () => {});`,
  // Exits before node:test reports anything: the file alone, with no tests, passes.
  'exit_at_once.test.mjs': `test('one', () => { process.exit(0); });\ntest('two', () => {});`,
  // A test that never ends and keeps a timer alive; the test after it must still run.
  'hang.test.mjs': `test('hangs', () => new Promise((r) => setTimeout(r, 600_000)));\ntest('after the hang', () => {});`,
  'skip.test.mjs': `test('runs', () => {});\ntest('f16 grid', (t) => t.skip('this adapter does not offer shader-f16'));`,
  // Fast tests that report megabytes: more than the pipe to the runner holds when forceExit ends the process.
  'loud.test.mjs': `const text = 'x'.repeat(20_000);
for (let i = 0; i < 100; i++) test(\`t\${i} \${text}\`, (t) => t.diagnostic(text));`,
};
for (const [name, body] of Object.entries(FIXTURES)) {
  writeFileSync(join(dir, name), `import { test } from 'node:test';\n${body}\n`);
}

function runTests(files: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  // NODE_TEST_CONTEXT tells node it is inside a test file, where run() refuses to start files of its own.
  const { NODE_TEST_CONTEXT: _, ...parentEnv } = process.env;
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      pathToFileURL(join(ROOT, 'scripts/test-timeout.mjs')).href,
      join(ROOT, 'scripts/test-run.mjs'),
      ...files.map((f) => join(dir, f)),
    ],
    {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 << 20,
      env: { ...parentEnv, MOBILESSD_TEST_CHECKS: '', MOBILESSD_TEST_TIMEOUT_MS: '1500', ...env },
    },
  );
  return { status: r.status, out: r.stdout + r.stderr };
}

const closingLine = (out: string) => out.trimEnd().split('\n').at(-1) ?? '';

test('a clean file passes, and the closing line says the checks were not run', () => {
  const { status, out } = runTests(['clean.test.mjs']);
  assert.equal(status, 0, out);
  assert.equal(closingLine(out), '2 passed, 0 failed (type check and lint not run)');
});

test('a file that exits with status 0 in its second of three tests turns the run red', () => {
  const { status, out } = runTests(['clean.test.mjs', 'exit_midway.test.mjs']);
  assert.equal(status, 1, out);
  assert.equal(closingLine(out), '3 passed, 2 failed (2 never finished, type check and lint not run)');
  assert.match(out, /exit_midway\.test\n2 of 3 tests never finished: two; three/);
});

test('a file that exits before reporting any test turns the run red', () => {
  const { status, out } = runTests(['exit_at_once.test.mjs']);
  assert.equal(status, 1, out);
  assert.match(closingLine(out), /^0 passed, 1 failed \(1 never finished/);
  assert.match(out, /exit_at_once\.test\n.*(finished without running any test|never finished)/);
});

test('a hanging test fails at the per-test timeout, the next test still runs, and the file ends', () => {
  // The hung test's 10-minute timer would hold its process without forceExit; the spawn's 60 s limit catches that.
  const { status, out } = runTests(['hang.test.mjs']);
  assert.equal(status, 1, out);
  assert.match(out, /FAIL hangs \[hang\.test\]\n\s+test timed out after 1500ms/);
  assert.match(out, /ok after the hang/);
  assert.equal(closingLine(out), '1 passed, 1 failed (type check and lint not run)');
});

test('a skipped test is listed with the reason it gave', () => {
  const { status, out } = runTests(['skip.test.mjs']);
  assert.equal(status, 0, out);
  assert.match(out, /^ {2}- f16 grid \(skipped: this adapter does not offer shader-f16\)$/m);
  assert.equal(closingLine(out), '1 passed, 0 failed (1 skipped, type check and lint not run)');
});

test('a file that reports megabytes in fast tests loses none of them to its forced exit', () => {
  // Without a blocking stdout in the test processes (scripts/test-timeout.mjs), the last test went missing here.
  const { status, out } = runTests(['loud.test.mjs']);
  assert.equal(closingLine(out), '100 passed, 0 failed (type check and lint not run)');
  assert.equal(status, 0);
});

test('a failed type check or lint is a failure on the closing line, even when every test passes', () => {
  const { status, out } = runTests(['clean.test.mjs'], {
    MOBILESSD_TEST_CHECKS: JSON.stringify({ 'type check': true, lint: false }),
  });
  assert.equal(status, 1, out);
  assert.equal(closingLine(out), '2 passed, 1 failed (type check ok, lint FAILED)');
});
