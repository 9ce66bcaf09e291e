// node:test reporter: one line per test, failures with their error, and one closing line that CI reads:
// `N passed, N failed (...)`. "failed" counts failed tests, tests that never finished, and failed checks.
//
// A test file can lose tests without failing one: `process.exit(0)` in a test, a crash that kills the process
// after an exit code of 0 was set, or a timeout that kills the file. So every test node:test enqueues must
// finish (pass or fail) in the same file, and every file must finish at least one test; a gap is a failure.
// The checks that ran before the tests (type check, lint) come in MOBILESSD_TEST_CHECKS as JSON
// ({"type check": true, "lint": false}) so that the closing line states them too.
import { basename, resolve } from 'node:path';

export default async function* reporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  /** Per test file: names enqueued and names finished (counts, since names may repeat). */
  const files = new Map();
  /** Time per test file, to keep the suite within its budget: the slowest are named at the end. */
  const fileMs = new Map();
  const fileOf = (key) => {
    if (!files.has(key)) files.set(key, { enqueued: new Map(), finished: new Map(), crashed: false });
    return files.get(key);
  };
  const bump = (map, name) => map.set(name, (map.get(name) ?? 0) + 1);

  for await (const event of source) {
    const d = event.data;
    // The test file itself is a test too (named by its path); it is not counted as one of its tests.
    const isFile = d?.file !== undefined && typeof d.name === 'string' && resolve(d.name) === d.file;
    const key = d?.file ? fileKey(d.file) : undefined;
    if (event.type === 'test:enqueue' && key) {
      if (isFile) fileOf(key);
      else bump(fileOf(key).enqueued, d.name);
    } else if (event.type === 'test:pass' || event.type === 'test:fail') {
      if (key && !isFile) bump(fileOf(key).finished, d.name);
      if (key && isFile && event.type === 'test:fail') fileOf(key).crashed = true;
      // Top-level tests and suites run one after another in their file's process: their sum is the file's time.
      if (key && !isFile && d.nesting === 0) fileMs.set(key, (fileMs.get(key) ?? 0) + (d.details?.duration_ms ?? 0));
      if (d.details?.type === 'suite') continue;
      if (isFile && event.type === 'test:pass') continue;
      const ms = d.details?.duration_ms ?? 0;
      const where = key ?? '';
      if (event.type === 'test:pass') {
        if (d.skip || d.todo) {
          skipped++;
          // t.skip(reason) says why (no shader-f16 on this adapter, ...): the log must show it.
          const why = typeof d.skip === 'string' ? `: ${d.skip}` : typeof d.todo === 'string' ? `: ${d.todo}` : '';
          yield `  - ${d.name} (skipped${why})\n`;
          continue;
        }
        passed++;
        yield `  ok ${d.name} (${ms.toFixed(0)} ms)\n`;
      } else if (d.todo) {
        skipped++;
        yield `  - ${d.name} (todo, failing)\n`;
      } else {
        failed++;
        const err = d.details?.error;
        const cause = err?.cause ?? err;
        const text = `${cause?.stack ?? cause?.message ?? String(cause)}`;
        failures.push(`${where} > ${d.name}\n${text}`);
        yield `  FAIL ${d.name} [${where}]\n${indent(text)}\n`;
      }
    } else if (
      event.type === 'test:diagnostic' &&
      /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(d.message)
    ) {
      // node's own totals; ours follow
    } else if (event.type === 'test:diagnostic') {
      yield `  # ${d.message}\n`;
    } else if (event.type === 'test:stderr' || event.type === 'test:stdout') {
      if (process.env.MOBILESSD_TEST_VERBOSE) yield d.message;
    }
  }

  const gaps = [...files].map(([key, f]) => ({ key, ...gap(f) })).filter((g) => g.lost > 0);
  const lost = gaps.reduce((s, g) => s + g.lost, 0);
  for (const g of gaps) {
    const text = g.names.length
      ? `${g.lost} of ${g.enqueued} tests never finished: ${g.names.join('; ')}`
      : 'the file finished without running any test';
    failures.push(`${g.key}\n${text} (did it exit early, crash or time out?)`);
  }
  const checks = parseChecks(process.env.MOBILESSD_TEST_CHECKS);
  const failedChecks = checks ? Object.keys(checks).filter((k) => !checks[k]) : [];
  if (failures.length) {
    yield `\nFailures:\n${failures.map((f, i) => `${i + 1}) ${f}`).join('\n\n')}\n`;
  }

  const slowest = [...fileMs].sort((a, b) => b[1] - a[1]).slice(0, 10);
  if (slowest.length > 1) {
    const all = [...fileMs.values()].reduce((a, b) => a + b, 0);
    const named = slowest.map(([k, ms]) => `${k} ${(ms / 1000).toFixed(0)} s`).join(', ');
    yield `\nTest files: ${fileMs.size}, ${(all / 1000).toFixed(0)} s in all; slowest: ${named}\n`;
  }

  const notes = [];
  if (lost) notes.push(`${lost} never finished`);
  if (skipped) notes.push(`${skipped} skipped`);
  if (checks) notes.push(...Object.entries(checks).map(([k, ok]) => `${k} ${ok ? 'ok' : 'FAILED'}`));
  else notes.push('type check and lint not run');
  const total = failed + lost + failedChecks.length;
  if (total > 0 || passed === 0) process.exitCode = 1;
  yield `\n${passed} passed, ${total} failed (${notes.join(', ')})\n`;
}

/** `.build/test/x.test.js` and its source `test/x.test.ts` are the same test file. */
function fileKey(file) {
  return basename(file).replace(/\.(ts|js|mjs|cjs)$/, '');
}

/** How many tests of a file were enqueued but never finished, and their names. */
function gap({ enqueued, finished, crashed }) {
  const names = [];
  let lost = 0;
  let count = 0;
  for (const [name, n] of enqueued) {
    count += n;
    const missing = n - (finished.get(name) ?? 0);
    if (missing > 0) {
      lost += missing;
      names.push(name);
    }
  }
  // A file that finished nothing lost every test it had, even ones it never got to enqueue (unless the file's
  // own failure, already counted, says why).
  const done = [...finished.values()].reduce((s, n) => s + n, 0);
  if (done === 0 && lost === 0 && !crashed) lost = 1;
  return { lost, enqueued: count, names };
}

function parseChecks(json) {
  if (!json) return undefined;
  const checks = JSON.parse(json);
  if (typeof checks !== 'object' || checks === null) throw new Error('MOBILESSD_TEST_CHECKS: expected an object');
  return checks;
}

function indent(s) {
  return s
    .split('\n')
    .slice(0, 30)
    .map((l) => `      ${l}`)
    .join('\n');
}
