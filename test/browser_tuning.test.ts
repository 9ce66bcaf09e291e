/**
 * The GEMM autotuner's plan cache in a browser (Chromium, SwiftShader): a load with `tune` forced measures
 * and stores its plan in IndexedDB; after a page reload the same load takes the plan from IndexedDB and
 * times nothing; a corrupted entry is reported and rewritten. BlazeFace (128x128) keeps the tuning short.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDemoBrowser, type DemoBrowser } from './support/demo_browser.ts';

let b: DemoBrowser;

before(async () => {
  b = await openDemoBrowser();
});
after(async () => {
  await b?.close();
});

interface Loaded {
  source: string;
  rejected: string | null;
  writeError: string | null;
  plan: [string, string][];
  /** The fusion decisions: the model's distinct depthwise + 1x1 pairs, timed during this load, fused. */
  pairs: { total: number; timed: number; fused: number } | null;
  detections: number;
  keys: string[];
  /** The stored values, as IndexedDB holds them. */
  stored: unknown[];
}

/**
 * A fresh page of the server's origin (no demo running), then load('blazeface') with tuning forced. The default
 * budget is lifted so that every shape is timed in one load and the next can take all of it from the cache.
 */
async function loadTuned(budgetMs = 1e9): Promise<Loaded> {
  await b.page.goto(`${b.server.origin}/samples/astronaut.jpg`);
  return b.page.evaluate(async (tuneBudgetMs) => {
    const bundle = '/browser/mobilessd.js';
    const lib = (await import(bundle)) as typeof import('../src/browser.ts');
    const d = await lib.load('blazeface', { baseUrl: '/weights/', tune: 'fast', tuneBudgetMs });
    const g = d.gemmTuning;
    const img = document.querySelector('img')!;
    const detections = (await d.detect(img)).length;
    d.dispose();
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('mobilessd');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const keys = await new Promise<string[]>((resolve, reject) => {
      const r = db.transaction('tuning').objectStore('tuning').getAllKeys();
      r.onsuccess = () => resolve(r.result.map(String));
      r.onerror = () => reject(r.error);
    });
    const stored = await new Promise<unknown[]>((resolve, reject) => {
      const r = db.transaction('tuning').objectStore('tuning').getAll();
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    db.close();
    return {
      source: g.source,
      rejected: g.rejected ?? null,
      writeError: g.writeError ?? null,
      plan: [...g.plan].map(([shape, c]): [string, string] => [shape, `${c.variant}/${c.workgroupSize}`]),
      pairs: g.pairs ? { total: g.pairs.total, timed: g.pairs.timed, fused: g.pairs.fused } : null,
      detections,
      keys,
      stored,
    };
  }, budgetMs);
}

test('a forced tuning run stores its plan in IndexedDB; after a reload the plan comes from there; a corrupt entry is rewritten', async (t) => {
  const first = await loadTuned();
  assert.equal(first.source, 'tuned', JSON.stringify(first));
  assert.equal(first.writeError, null);
  assert.equal(first.keys.length, 1, 'one entry, keyed by adapter, model and input size');
  const key = JSON.parse(first.keys[0]!) as { adapter: unknown[]; model: unknown[]; input: number[] };
  assert.deepEqual(key.input, [128, 128]);
  assert.equal(key.model[0], 'blazeface');
  assert.ok(first.detections > 0, 'the astronaut is found');
  // What was measured is stored whichever plan the whole-network check let the load use.
  const stored = JSON.parse(String(first.stored[0])) as { layers: unknown[]; pairs: unknown[] };
  assert.ok(stored.layers.length > 0, 'every GEMM shape timed and stored');
  // BlazeFace's depthwise + 1x1 pairs: each timed against the fused kernel and its decision stored.
  assert.ok(first.pairs && first.pairs.total > 0, JSON.stringify(first.pairs));
  assert.equal(first.pairs.timed, first.pairs.total);
  assert.equal(stored.pairs.length, first.pairs.total, 'every pair decided and stored');

  await b.page.reload();
  const cached = await loadTuned();
  assert.equal(cached.source, 'cache', JSON.stringify(cached));
  assert.deepEqual(cached.plan, first.plan, 'the plan read back is the one tuned');
  assert.deepEqual(cached.stored, first.stored, 'nothing was rewritten');
  assert.deepEqual(cached.pairs, { ...first.pairs, timed: 0 }, 'no pair timed again');
  assert.equal(cached.detections, first.detections);

  // Corrupt the stored entry: the next load says why it was not used, tunes again (here with no time, so no
  // shape) and rewrites it with an entry that parses again.
  await b.page.evaluate(async (k) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('mobilessd');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('tuning', 'readwrite');
      tx.objectStore('tuning').put('{"version": 2, "layers": [', k);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }, first.keys[0]!);
  const retuned = await loadTuned(0);
  assert.equal(retuned.source, 'tuned');
  assert.match(retuned.rejected ?? '', /^not JSON/);
  assert.equal(retuned.writeError, null);
  assert.deepEqual(retuned.keys, first.keys);
  const entry = JSON.parse(String(retuned.stored[0])) as { key: string; layers: unknown[] };
  assert.equal(entry.key, first.keys[0], 'rewritten: valid JSON under the same key');
  assert.ok(Array.isArray(entry.layers));
  const again = await loadTuned(0);
  assert.equal(again.rejected, null, 'the rewritten entry is accepted');
  t.diagnostic(
    `${stored.layers.length} GEMM shapes and ${first.pairs.total} pairs timed (${first.pairs.fused} fused), ` +
      `${first.plan.length} tuned picks in use; after reload: ${cached.source}`,
  );
});
