// node:test reporter: one line per test, failures with their error, and the closing
// `N passed, N failed` line that CI reads.
export default async function* reporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  for await (const event of source) {
    const d = event.data;
    if (event.type === 'test:pass' || event.type === 'test:fail') {
      if (d.details?.type === 'suite') continue;
      const ms = d.details?.duration_ms ?? 0;
      const where = d.file ? d.file.replace(/^.*\.build\/test\//, '') : '';
      if (event.type === 'test:pass') {
        if (d.skip || d.todo) {
          skipped++;
          yield `  - ${d.name} (skipped)\n`;
          continue;
        }
        passed++;
        yield `  ok ${d.name} (${ms.toFixed(0)} ms)\n`;
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
  if (failures.length) {
    yield `\nFailures:\n${failures.map((f, i) => `${i + 1}) ${f}`).join('\n\n')}\n`;
  }
  yield `\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`;
}

function indent(s) {
  return s
    .split('\n')
    .slice(0, 30)
    .map((l) => `      ${l}`)
    .join('\n');
}
