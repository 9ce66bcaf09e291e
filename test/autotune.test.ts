/**
 * The load-time GEMM autotuner: what it may pick, that it picks the fastest it timed, the plan reaching the
 * executor (outputs still equal the CPU reference), the fusion decision per depthwise + 1x1 pair (every pair
 * decided and stored, a stored fusion run by the detector), the on-disk cache (round trip, incremental runs,
 * corrupt, stale and foreign entries ignored and rewritten; f32 and f16 entries apart) and the load option.
 * Timings themselves are the bench's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Detector } from '../src/api/detector.ts';
import { rgbaFrame } from '../src/api/rgba_frame.ts';
import {
  checkPlan,
  gemmPlanFor,
  PLAN_MARGIN,
  tunedWins,
  modelDwpwPairs,
  modelGemmShapes,
  parseEntry,
  tuningKey,
  TUNER_VERSION,
} from '../src/api/tuning.ts';
import { fusionLine, tuningSummary } from '../src/cli/models.ts';
import { InvalidOptionError } from '../src/errors.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { lowerGraph } from '../src/graph/lower.ts';
import { runRawOutputs } from '../src/graph/raw.ts';
import { runReference } from '../src/graph/reference.ts';
import type { TunedPair } from '../src/kernels/dwpw_autotune.ts';
import { dwpwShapeKey, type FusedChoice } from '../src/kernels/dwpw_tuning.ts';
import { gemmCandidates, tuneGemms } from '../src/kernels/pointwise_autotune.ts';
import { POINTWISE_VARIANTS } from '../src/kernels/pointwise_conv2d.ts';
import {
  gemmShapeKey,
  isGemmChoice,
  plannedPointwise,
  tunedPointwise,
  type GemmChoice,
  type GemmPlan,
} from '../src/kernels/pointwise_tuning.ts';
import { nodeTuningStore } from '../src/node/tuning_store.ts';
import { PointwiseStep } from '../src/ops/conv2d.ts';
import { DwpwStep } from '../src/ops/support/dwpw.ts';
import { assertClose, gpu, randomFloats, releaseGpu } from './support/gpu.ts';
import { syntheticModel } from './support/synthetic_model.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await releaseGpu();
});

function freshStore() {
  const dir = mkdtempSync(join(tmpdir(), 'mobilessd-tune-'));
  dirs.push(dir);
  const store = nodeTuningStore(dir);
  const file = () => {
    const files = readdirSync(join(dir, 'tuning'));
    assert.equal(files.length, 1, `one entry in ${dir}/tuning: ${files.join(', ')}`);
    return join(dir, 'tuning', files[0]!);
  };
  return { dir, store, file };
}

const s = { M: 81, K: 36, N: 132, HW: 81 };

/** A plan's GEMM picks alone (its fused pairs left out). */
const gemmPicks = (plan: GemmPlan) => new Map([...plan].filter(([, c]) => isGemmChoice(c)));
/** The model's distinct depthwise + 1x1 pair keys. */
const pairKeys = (m: ReturnType<typeof syntheticModel>, ctx: Awaited<ReturnType<typeof gpu>>) =>
  new Set(modelDwpwPairs(m, ctx.report).map((p) => dwpwShapeKey(p.s)));

test("candidates: 'off' is the table's choice; 'fast' and 'full' put it first, and 'full' holds every fast one", () => {
  for (const driver of ['lavapipe', 'swiftshader', 'hardware'] as const) {
    const table = tunedPointwise(driver, s);
    assert.deepEqual(gemmCandidates('off', s, driver), [table]);
    const fast = gemmCandidates('fast', s, driver);
    const full = gemmCandidates('full', s, driver);
    assert.deepEqual(fast[0], table);
    assert.deepEqual(full[0], table);
    const key = (c: { variant: string; workgroupSize: number }) => `${c.variant}@${c.workgroupSize}`;
    const fullKeys = new Set(full.map(key));
    assert.equal(fullKeys.size, full.length, 'no candidate twice');
    for (const c of fast) assert.ok(fullKeys.has(key(c)), `${key(c)} is a full candidate`);
    assert.ok(fast.some((c) => c.variant.startsWith('tiled')) && fast.some((c) => c.variant.startsWith('blocked')));
    for (const v of POINTWISE_VARIANTS.filter((v) => v !== 'naive'))
      assert.ok(
        full.some((c) => c.variant === v),
        `full tries ${v}`,
      );
  }
  // K not a multiple of 4: only the naive kernel runs it, and the tuner has nothing else to offer.
  assert.deepEqual(gemmCandidates('full', { M: 9, K: 3, N: 8, HW: 9 }, 'hardware'), [
    { variant: 'naive', workgroupSize: 64 },
  ]);
});

test('subgroup GEMMs: candidates and table choices only at workgroup sizes correct for every stated subgroup size', () => {
  const subgroupSizes = (sizes?: { min: number; max: number }) =>
    gemmCandidates('full', s, 'hardware', sizes)
      .filter((c) => c.variant.startsWith('subgroup'))
      .map((c) => c.workgroupSize);
  assert.deepEqual(subgroupSizes(), [], 'no subgroups: no subgroup candidates');
  assert.deepEqual(new Set(subgroupSizes({ min: 8, max: 8 })), new Set([32, 64, 128, 256]));
  assert.deepEqual(new Set(subgroupSizes({ min: 4, max: 64 })), new Set([64, 128, 256]));
  assert.deepEqual(new Set(subgroupSizes({ min: 128, max: 128 })), new Set([128, 256]));
  // The lavapipe table takes its subgroup tile where it runs; elsewhere, and on unmeasured adapters, the plain one.
  assert.deepEqual(tunedPointwise('lavapipe', s, { min: 8, max: 8 }), { variant: 'subgroup8x2', workgroupSize: 32 });
  assert.equal(tunedPointwise('lavapipe', s, { min: 64, max: 64 }).variant, 'blocked8x2');
  assert.equal(tunedPointwise('lavapipe', s).variant, 'blocked8x2');
  assert.equal(tunedPointwise('hardware', s, { min: 8, max: 8 }).variant, 'blocked8x2');
  assert.equal(tunedPointwise('swiftshader', s, { min: 4, max: 4 }).variant, 'unrolled8x2');
  // A stored plan's subgroup choice this device cannot run falls back to the table.
  const plan = new Map([[gemmShapeKey(s), { variant: 'subgroup8x2' as const, workgroupSize: 32 }]]);
  assert.equal(plannedPointwise('lavapipe', s, plan, { min: 64, max: 64 }).variant, 'blocked8x2');
  assert.equal(plannedPointwise('lavapipe', s, plan, { min: 8, max: 8 }).variant, 'subgroup8x2');
});

test('tuneGemms times every candidate of every distinct shape and keeps the fastest', async () => {
  const ctx = await gpu();
  const shapes = [s, { M: 16, K: 64, N: 24, HW: 16 }, s];
  const r = await tuneGemms(ctx, shapes, 'fast', Infinity);
  assert.equal(r.timer, ctx.hasTimestamps ? 'timestamp' : 'wall');
  assert.deepEqual(r.untimed, []);
  assert.deepEqual(
    r.layers.map((l) => l.shape),
    ['81x36x132', '16x64x24'],
  );
  for (const l of r.layers) {
    const shape = shapes.find((x) => gemmShapeKey(x) === l.shape)!;
    assert.equal(
      l.timed.length,
      gemmCandidates('fast', shape, ctx.report.driver, ctx.subgroups).length,
      'every candidate timed',
    );
    assert.ok(l.timed.every((t) => Number.isFinite(t.ms) && t.ms >= 0));
    const table = tunedPointwise(ctx.report.driver, shape, ctx.subgroups);
    const tableMs = l.timed.find((t) => t.variant === table.variant && t.workgroupSize === table.workgroupSize)!.ms;
    const fastest = l.timed[0]!;
    assert.ok(
      l.timed.every((t) => t.ms >= fastest.ms),
      'fastest first',
    );
    // The table's choice stays unless another is more than 5% faster.
    const want = fastest.ms <= 0.95 * tableMs ? fastest : { ...table, ms: tableMs };
    assert.deepEqual(
      { ...l.choice, ms: l.ms },
      { variant: want.variant, workgroupSize: want.workgroupSize, ms: want.ms },
    );
  }
  const none = await tuneGemms(ctx, shapes, 'fast', -1);
  assert.deepEqual(none.layers, []);
  assert.deepEqual(none.untimed, ['81x36x132', '16x64x24'], 'past the budget no shape is started');
});

test('a tuned plan reaches the executor, whose outputs still equal the CPU reference; the cache round-trips', async () => {
  const ctx = await gpu();
  const m = syntheticModel();
  const { store, file } = freshStore();
  const first = await gemmPlanFor(ctx, m, 'fast', store, Infinity);
  assert.equal(first.source, 'tuned');
  const shapes = new Set(modelGemmShapes(m, ctx.report).map(gemmShapeKey));
  assert.deepEqual(new Set(gemmPicks(first.plan).keys()), shapes, 'every GEMM shape of the model has a choice');
  const entry = JSON.parse(readFileSync(file(), 'utf8')) as {
    key: string;
    version: number;
    layers: unknown[];
    pairs: { shape: string; choice: unknown; ms: number | null; pairMs: number }[];
  };
  assert.equal(entry.key, tuningKey(ctx.report, m, 'f32'));
  assert.equal(entry.version, TUNER_VERSION);
  assert.equal(entry.layers.length, shapes.size);
  // Every pair of the model has a stored decision, 'pair' included, and the plan fuses exactly the fused ones.
  const pairs = pairKeys(m, ctx);
  assert.equal(pairs.size, 2, 'the synthetic model has two depthwise + 1x1 pairs');
  assert.deepEqual(new Set(entry.pairs.map((p) => p.shape)), pairs);
  assert.equal(first.dwpwResult?.pairs.length, pairs.size, 'each pair timed once');
  assert.deepEqual(first.pairs, {
    total: pairs.size,
    timed: pairs.size,
    fused: entry.pairs.filter((p) => p.choice !== 'pair').length,
    untimed: 0,
  });
  for (const p of entry.pairs) {
    const got: TunedPair = first.dwpwResult.pairs.find((t) => t.shape === p.shape)!;
    assert.equal(p.pairMs, got.pairMs);
    assert.equal(p.ms, got.timed[0]?.ms ?? null, 'the fastest fused candidate');
    assert.deepEqual(p.choice, got.choice ?? 'pair');
    assert.deepEqual(first.plan.get(p.shape), p.choice === 'pair' ? undefined : p.choice);
  }

  const again = await gemmPlanFor(ctx, m, 'fast', store, Infinity);
  assert.equal(again.source, 'cache');
  assert.deepEqual([...again.plan], [...first.plan]);
  assert.equal(again.result, undefined, 'no GEMM timed');
  assert.equal(again.dwpwResult, undefined, 'no pair timed');
  assert.deepEqual(again.pairs, { ...first.pairs, timed: 0 });
  // What `mobilessd info` prints about it.
  const fused = first.pairs.fused;
  assert.equal(
    fusionLine(tuningSummary(first)),
    `fused depthwise + 1x1: ${fused} of 2 distinct pairs fused by the tuner; 2 timed now; timed in f32`,
  );
  assert.match(
    fusionLine(tuningSummary(again))!,
    /: \d of 2 distinct pairs fused by the tuner; decisions from the cache;/,
  );
  assert.equal(fusionLine(tuningSummary({ mode: 'off', source: 'table', plan: new Map() })), undefined);

  const packed = packModelWeights(ctx, m);
  // Batch 2 runs other shapes than the tuned batch-1 ones (they keep the table's choice): still correct.
  const ex = await GraphExecutor.create(ctx, m, packed, 2, {}, undefined, again.plan);
  const ex1 = await GraphExecutor.create(ctx, m, packed, 1, {}, undefined, again.plan);
  for (const st of ex1.lowered.steps.filter((x) => x instanceof PointwiseStep))
    assert.deepEqual({ variant: st.variant, workgroupSize: st.workgroupSize }, again.plan.get(gemmShapeKey(st.s)));
  for (const st of ex1.lowered.steps.filter((x) => x instanceof DwpwStep))
    assert.deepEqual({ variant: st.variant, workgroupSize: st.workgroupSize }, again.plan.get(dwpwShapeKey(st.s)));
  assert.equal(ex1.lowered.steps.filter((x) => x instanceof DwpwStep).length, first.pairs.fused);
  const [, h, w] = m.json.shapes.input!;
  for (const [batch, e] of [
    [2, ex],
    [1, ex1],
  ] as const) {
    const input = randomFloats(batch * h! * w! * 3, 31 + batch, -1, 1);
    const got = await runRawOutputs(ctx, e, input);
    const ref = runReference(m, input, batch);
    assertClose(got.get('boxes')!, ref.get('boxes')!, 1e-4, 1e-4, 'boxes');
    assertClose(got.get('scores')!, ref.get('scores')!, 1e-4, 1e-4, 'scores');
    e.destroy();
  }
  packed.buffer?.destroy();
});

test('corrupt, stale, foreign and unrunnable entries are ignored and rewritten; a partial one is completed', async () => {
  const ctx = await gpu();
  const m = syntheticModel();
  const { store, file } = freshStore();
  await gemmPlanFor(ctx, m, 'fast', store, Infinity);
  const good = readFileSync(file(), 'utf8');
  type Entry = Record<string, unknown> & { layers: Record<string, unknown>[]; pairs: Record<string, unknown>[] };
  const edit = (f: (e: Entry) => void) => {
    const e = JSON.parse(good) as Entry;
    f(e);
    return JSON.stringify(e);
  };
  const fused = { variant: 'dwpw64x64', workgroupSize: 256 };
  const cases: [string, string, RegExp][] = [
    ['truncated', good.slice(0, good.length / 2), /not JSON/],
    ['an older tuner', edit((e) => (e.version = TUNER_VERSION - 1)), /tuner version/],
    ['another adapter', edit((e) => (e.key = String(e.key).replace('"adapter":["', '"adapter":["x'))), /another/],
    ['an unknown variant', edit((e) => (e.layers[0]!.variant = 'blocked3x3')), /not a GEMM variant/],
    ['a workgroup size the tuner never tries', edit((e) => (e.layers[0]!.workgroupSize = 512)), /workgroupSize 512/],
    ['a negative time', edit((e) => (e.layers[0]!.ms = -1)), /ms -1/],
    ['no pair decisions (an entry of tuner 3)', edit((e) => delete (e as Partial<Entry>).pairs), /no pairs/],
    ['a pair key of another form', edit((e) => (e.pairs[0]!.shape = '81x36x132')), /pairs\[0\]\.shape "81x36x132"/],
    [
      'a fused variant this build lacks',
      edit((e) => (e.pairs[0]!.choice = { variant: 'dwpw16x16', workgroupSize: 64 })),
      /pairs\[0\]\.choice .*dwpw16x16.* is not a fused variant/,
    ],
    [
      'a GEMM variant as a fused choice',
      edit((e) => (e.pairs[0]!.choice = { variant: 'tiled64x64', workgroupSize: 64 })),
      /pairs\[0\]\.choice .* is not a fused variant/,
    ],
    [
      'a fused workgroup size the tuner never tries',
      edit((e) => (e.pairs[1]!.choice = { ...fused, workgroupSize: 128 })),
      /pairs\[1\]\.choice .*128.* is not a fused variant and workgroup size/,
    ],
    ['a choice that is neither', edit((e) => (e.pairs[0]!.choice = 'fused')), /neither 'pair' nor/],
    [
      'a fused choice never timed',
      edit((e) => Object.assign(e.pairs[0]!, { choice: fused, ms: null })),
      /pairs\[0\]\.ms null/,
    ],
    ['a negative pair time', edit((e) => (e.pairs[1]!.pairMs = -2)), /pairs\[1\]\.pairMs -2/],
    [
      'a check that kept neither plan',
      edit((e) => (e.check = { tableMs: 1, tunedMs: 1, runs: 3, ratio: 1, faster: 1, kept: 'x' })),
      /kept/,
    ],
  ];
  for (const [what, text, why] of cases) {
    writeFileSync(file(), text);
    const r = await gemmPlanFor(ctx, m, 'fast', store, Infinity);
    assert.equal(r.source, 'tuned', what);
    assert.match(r.rejected ?? '', why, what);
    assert.equal(
      typeof parseEntry(readFileSync(file(), 'utf8'), tuningKey(ctx.report, m)),
      'object',
      `${what}: rewritten`,
    );
    assert.equal((await gemmPlanFor(ctx, m, 'fast', store, Infinity)).source, 'cache', `${what}: then used`);
  }
  // A 'fast' entry does not answer 'full'.
  assert.match((await gemmPlanFor(ctx, m, 'full', store, 0)).rejected ?? '', /'full' was asked/);
  // A run whose budget ran out stores what it timed; the next load times only the rest and merges.
  writeFileSync(
    file(),
    edit((e) => e.layers.splice(1)),
  );
  const rest = await gemmPlanFor(ctx, m, 'fast', store, Infinity);
  assert.equal(rest.source, 'tuned');
  assert.equal(rest.rejected, undefined);
  const distinct = new Set(modelGemmShapes(m, ctx.report).map(gemmShapeKey)).size;
  assert.ok(distinct > 1);
  assert.equal(rest.result!.layers.length, distinct - 1, 'only the shapes missing from the entry were timed');
  assert.equal(rest.dwpwResult, undefined, 'every pair was decided already');
  assert.equal(gemmPicks(rest.plan).size, distinct);
  // Likewise a pair left undecided: only it is timed, and the entry then holds both.
  writeFileSync(
    file(),
    edit((e) => e.pairs.splice(1)),
  );
  const pair = await gemmPlanFor(ctx, m, 'fast', store, Infinity);
  assert.equal(pair.source, 'tuned');
  assert.equal(pair.result, undefined, 'every GEMM shape was timed already');
  assert.deepEqual(
    pair.dwpwResult!.pairs.map((p) => p.shape),
    [...pairKeys(m, ctx)].filter((k) => k !== (JSON.parse(good) as Entry).pairs[0]!.shape),
  );
  assert.equal(pair.pairs!.timed, 1);
  const completed = parseEntry(readFileSync(file(), 'utf8'), tuningKey(ctx.report, m));
  assert.ok(typeof completed === 'object' && completed.pairs.length === 2, 'completed');
  assert.equal((await gemmPlanFor(ctx, m, 'fast', store, Infinity)).source, 'cache');
});

test("the load option: 'off' is the table, a tuned plan is loaded from the store, and a bad value is refused", async () => {
  const ctx = await gpu();
  const m = syntheticModel();
  const { store } = freshStore();
  await assert.rejects(
    Detector.create(m, { context: ctx, tune: 'quick' as 'fast' }),
    (e) => e instanceof InvalidOptionError && /tune/.test(e.message),
  );
  const off = await Detector.create(m, { context: ctx, tune: 'off', tuningStore: store });
  assert.deepEqual([off.gemm.source, off.gemm.plan.size], ['table', 0]);
  off.dispose();
  const tuned = await gemmPlanFor(ctx, m, 'fast', store, Infinity);
  const d = await Detector.create(m, { context: ctx, tune: 'fast', tuningStore: store });
  assert.equal(d.gemm.source, 'cache');
  const all = (await d.stats(1)).steps;
  const steps = all.filter((st) => st.kind === 'pointwise');
  assert.ok(steps.length > 0);
  for (const st of steps) assert.ok(st.variant && st.workgroupSize, st.name);
  // Every GEMM runs a configuration the tuner picked, and the tuner's fusions run as fused steps.
  const picked = new Set([...gemmPicks(tuned.plan).values()].map((c) => `${c.variant}@${c.workgroupSize}`));
  for (const st of steps) assert.ok(picked.has(`${st.variant}@${st.workgroupSize}`), st.name);
  assert.equal(all.filter((st) => st.kind === 'dwpw').length, tuned.pairs!.fused);
  // With no pair fused every pick runs somewhere (a fused pair's own GEMM pick has no step left to run it).
  if (!tuned.pairs!.fused) assert.deepEqual(new Set(steps.map((st) => `${st.variant}@${st.workgroupSize}`)), picked);
  const counts = await d.dispatchCounts(1);
  assert.equal(counts.preprocess, 1);
  assert.equal(counts.network, (await d.stats(1)).dispatches);
  assert.equal(counts.total, counts.preprocess + counts.network + counts.head);
  d.dispose();
});

test('a tuned plan is kept only when its median is clearly faster and it wins most paired runs', () => {
  assert.equal(tunedWins({ ratio: 0.9, faster: 4, runs: 5 }), true);
  assert.equal(tunedWins({ ratio: 0.9, faster: 3, runs: 5 }), false, 'a median of five carried by three runs');
  assert.equal(tunedWins({ ratio: PLAN_MARGIN, faster: 5, runs: 5 }), false, 'within the margin: noise');
  assert.equal(tunedWins({ ratio: 0.5, faster: 7, runs: 9 }), true);
  assert.equal(tunedWins({ ratio: 0.5, faster: 6, runs: 9 }), false);
});
test('the whole-network check: a plan unlike the table is timed against it, and a check that kept the table loads the table', async () => {
  const ctx = await gpu();
  const m = syntheticModel();
  const packed = packModelWeights(ctx, m);
  const shapes = modelGemmShapes(m, ctx.report);
  // Every shape on a configuration the table never picks for it, so the two plans differ.
  const other = new Map(
    shapes.map((sh) => {
      const table = tunedPointwise(ctx.report.driver, sh, ctx.subgroups);
      const variant = table.variant === 'tiled32x32' ? 'blocked4x1' : 'tiled32x32';
      return [gemmShapeKey(sh), { variant, workgroupSize: 64 }] as const;
    }),
  );
  const check = await checkPlan(ctx, m, packed, other, 3);
  assert.ok(check, 'differing plans are checked');
  assert.equal(check.runs, 3);
  assert.ok(check.tableMs > 0 && check.tunedMs > 0, JSON.stringify(check));
  assert.equal(check.kept, tunedWins(check) ? 'tuned' : 'table');
  assert.ok(check.faster >= 0 && check.faster <= check.runs);
  // The table as lowering reads it: with the device's subgroup sizes (lavapipe's table picks subgroup tiles).
  const tablePicks = new Map(
    shapes.map((sh) => [gemmShapeKey(sh), tunedPointwise(ctx.report.driver, sh, ctx.subgroups)]),
  );
  assert.equal(await checkPlan(ctx, m, packed, tablePicks, 3), undefined, "the table's own picks need no check");
  // The table's GEMMs with one pair fused is another network (one dispatch fewer): it is timed against the table.
  const pairKey = [...pairKeys(m, ctx)][0]!;
  const fuseOne: GemmPlan = new Map<string, GemmChoice | FusedChoice>([
    ...tablePicks,
    [pairKey, { variant: 'dwpw64x64', workgroupSize: 256 }],
  ]);
  assert.ok(await checkPlan(ctx, m, packed, fuseOne, 3), 'a fusion alone is checked');

  // A load with weights checks what it tuned and stores the verdict; a stored verdict for the table wins on reload.
  const { store, file } = freshStore();
  const tuned = await gemmPlanFor(ctx, m, 'fast', store, Infinity, packed);
  const distinct = new Set(shapes.map(gemmShapeKey)).size;
  assert.equal(gemmPicks(tuned.plan).size, tuned.check?.kept === 'table' ? 0 : distinct, JSON.stringify(tuned.check));
  assert.equal(tuned.plan.size - gemmPicks(tuned.plan).size, tuned.check?.kept === 'table' ? 0 : tuned.pairs!.fused);
  const entry = JSON.parse(readFileSync(file(), 'utf8')) as Record<string, unknown>;
  entry.check = { tableMs: 1, tunedMs: 2, runs: 3, ratio: 2, faster: 0, kept: 'table' };
  writeFileSync(file(), JSON.stringify(entry));
  const reloaded = await gemmPlanFor(ctx, m, 'fast', store, Infinity, packed);
  assert.equal(reloaded.source, 'cache');
  assert.deepEqual(reloaded.check, entry.check);
  assert.equal(reloaded.plan.size, 0, "the table's plan is in use");
  entry.check = { tableMs: 2, tunedMs: 1, runs: 3, ratio: 0.5, faster: 3, kept: 'tuned' };
  writeFileSync(file(), JSON.stringify(entry));
  const kept = await gemmPlanFor(ctx, m, 'fast', store, Infinity, packed);
  assert.equal(gemmPicks(kept.plan).size, distinct, 'the tuned picks are in use');
  assert.equal(kept.plan.size - distinct, kept.pairs!.fused, 'and the fusions');
  packed.buffer?.destroy();
});

test('an entry that fuses a pair makes the detector run it fused, with the detections of the pair', async () => {
  const ctx = await gpu();
  const m = syntheticModel();
  const { store, file } = freshStore();
  await gemmPlanFor(ctx, m, 'fast', store, Infinity);
  // Whatever the timings said: the first pair fused, the second not; no whole-network verdict, so the picks load.
  const entry = JSON.parse(readFileSync(file(), 'utf8')) as { pairs: Record<string, unknown>[]; check?: unknown };
  const choice = { variant: 'dwpw64x64', workgroupSize: 256 };
  Object.assign(entry.pairs[0]!, { choice, ms: 1 });
  entry.pairs[1]!.choice = 'pair';
  delete entry.check;
  writeFileSync(file(), JSON.stringify(entry));
  const name = lowerGraph(m.json, 1, { dwpw: 'dwpw64x64' })
    .steps.filter((st) => st instanceof DwpwStep)
    .find((st) => dwpwShapeKey(st.s) === entry.pairs[0]!.shape)!.name;

  const fused = await Detector.create(m, { context: ctx, tune: 'fast', tuningStore: store });
  const pair = await Detector.create(m, { context: ctx, tune: 'off' });
  try {
    assert.equal(fused.gemm.source, 'cache');
    assert.deepEqual(fused.gemm.pairs, { total: 2, timed: 0, fused: 1, untimed: 0 });
    const steps = (await fused.stats(1)).steps;
    assert.deepEqual(
      steps.filter((st) => st.kind === 'dwpw').map((st) => [st.name, st.variant, st.workgroupSize]),
      [[name, 'dwpw64x64', 256]],
    );
    assert.equal(steps.length, (await pair.stats(1)).steps.length - 1, 'one dispatch fewer');
    const [, h, w] = m.json.shapes.input!;
    const data = new Uint8Array(randomFloats(h! * w! * 4, 7, 0, 255).map(Math.round));
    const frame = rgbaFrame({ data, width: w!, height: h! });
    const [a, b] = [
      await fused.detect(frame, { scoreThreshold: 0.3 }),
      await pair.detect(frame, { scoreThreshold: 0.3 }),
    ];
    assert.ok(b.length > 0, 'the unfused run finds something to compare');
    assert.deepEqual(
      a.map((d) => d.label),
      b.map((d) => d.label),
    );
    // The dwpw tests' tolerance on raw outputs; boxes as fractions of the frame.
    const flat = (ds: typeof a) =>
      ds.flatMap((d) => [d.score, d.box.x / w!, d.box.y / h!, d.box.width / w!, d.box.height / h!]);
    assertClose(flat(a), flat(b), 1e-4, 1e-4, 'detections, fused vs pair');
  } finally {
    fused.dispose();
    pair.dispose();
  }
});

test('f32 and f16 entries have their own keys, and an f16 load times its candidates in f16', async (t) => {
  const ctx = await gpu();
  const m = syntheticModel();
  const key = (st: 'f32' | 'f16') => JSON.parse(tuningKey(ctx.report, m, st)) as { storage: string };
  assert.notEqual(tuningKey(ctx.report, m, 'f32'), tuningKey(ctx.report, m, 'f16'));
  assert.deepEqual([key('f32').storage, key('f16').storage], ['f32', 'f16']);
  if (!ctx.hasF16) return t.skip(`${ctx.describe()} does not offer shader-f16: no f16 load to tune`);
  const { dir, store } = freshStore();
  // The pipelines each load asks for: the kernels' keys name their storage type.
  const keys: string[] = [];
  const build = ctx.pipeline.bind(ctx);
  ctx.pipeline = (k, spec) => {
    keys.push(k);
    return build(k, spec);
  };
  const load = async (precision: 'f32' | 'f16') => {
    keys.length = 0;
    const d = await Detector.create(m, {
      context: ctx,
      precision,
      tune: 'fast',
      tuneBudgetMs: 1e9,
      tuningStore: store,
    });
    d.dispose();
    const tuned = keys.filter((k) => /^(pointwise|dwpw)_conv2d\//.test(k));
    return { gemm: d.gemm, tuned };
  };
  try {
    const f16 = await load('f16');
    assert.deepEqual([f16.gemm.source, f16.gemm.storage], ['tuned', 'f16']);
    assert.ok(
      f16.tuned.some((k) => k.startsWith('dwpw_conv2d/')),
      'fused candidates built',
    );
    assert.deepEqual(
      f16.tuned.filter((k) => !k.includes('/f16/')),
      [],
      'every GEMM and fused candidate in f16',
    );
    const f32 = await load('f32');
    assert.deepEqual([f32.gemm.source, f32.gemm.storage], ['tuned', 'f32'], 'the f16 entry does not answer f32');
    assert.deepEqual(
      f32.tuned.filter((k) => !k.includes('/f32/')),
      [],
    );
    assert.equal(readdirSync(join(dir, 'tuning')).length, 2, 'two entries');
    assert.equal((await load('f16')).gemm.source, 'cache');
  } finally {
    Reflect.deleteProperty(ctx, 'pipeline');
  }
});
