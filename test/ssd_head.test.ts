import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { GpuContext } from '../src/gpu/context.ts';
import { encodeDispatches, type Dispatch } from '../src/gpu/dispatch.ts';
import { SsdHead, parseCandidateCounts, parseDetections } from '../src/ssd/head.ts';
import { iou, rowScores, ssdHeadRef } from '../src/ssd/head_ref.ts';
import { reportableClasses, type HeadDetection, type HeadOptions } from '../src/ssd/head_types.ts';
import { gpu, releaseGpu, storage } from './support/gpu.ts';
import { imageOf, makeCase, safeThreshold, scene, SCALES, type CaseShape, type HeadCase } from './support/ssd_cases.ts';

after(releaseGpu);

async function execute(ctx: GpuContext, list: readonly Dispatch[], head: SsdHead): Promise<ArrayBuffer> {
  await ctx.checked('ssd head', () => {
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, list);
    pass.end();
    ctx.queue.submit([enc.finish()]);
  });
  ctx.throwUncaptured('ssd head');
  return ctx.readBuffer(head.output, 0, head.outputBytes);
}

/** What the score pass should append for one image: the reference's candidate rule, counted. */
function candidateCount(k: HeadCase, image: number, o: HeadOptions): number {
  const { logits } = imageOf(k, image);
  const ok = reportableClasses(k.numClasses, k.spec, o.allowedClasses);
  let count = 0;
  for (let a = 0; a < k.numAnchors; a++) {
    const s = rowScores(logits, a, k.numClasses, k.spec.scoreFunction).filter((_, c) => ok[c]);
    count += o.perClassNms
      ? s.filter((v) => v >= o.scoreThreshold).length
      : s.length && Math.max(...s) >= o.scoreThreshold
        ? 1
        : 0;
  }
  return count;
}

function assertSameDetections(got: HeadDetection[], ref: HeadDetection[], what: string): void {
  const show = (d: HeadDetection[]) =>
    d
      .slice(0, 8)
      .map((x) => `${x.anchor}:${x.classId}@${x.score.toFixed(6)}`)
      .join(' ');
  assert.equal(
    got.length,
    ref.length,
    `${what}: ${got.length} detections, reference ${ref.length}\n  got ${show(got)}\n  ref ${show(ref)}`,
  );
  got.forEach((g, i) => {
    const r = ref[i]!;
    const at = `${what}: detection ${i}`;
    assert.equal(`${g.anchor}:${g.classId}`, `${r.anchor}:${r.classId}`, `${at} (anchor:class)`);
    assert.ok(Math.abs(g.score - r.score) <= 1e-5, `${at}: score ${g.score} vs ${r.score}`);
    const overlap = iou([g.ymin, g.xmin, g.ymax, g.xmax], [r.ymin, r.xmin, r.ymax, r.xmax]);
    assert.ok(overlap >= 0.999, `${at}: IoU with the reference box ${overlap}`);
  });
}

/**
 * Score passes to run, each forced: the plain one, and the subgroup one where the device can run it. The grids
 * below run every case through each and require the two output buffers to be equal word for word.
 */
function headPaths(ctx: GpuContext): boolean[] {
  return subgroupSkipReason(ctx) ? [false] : [false, true];
}

function subgroupSkipReason(ctx: GpuContext): string | undefined {
  if (!ctx.subgroups) return `${ctx.describe()} offers no subgroups (or states no subgroup sizes)`;
  if (ctx.subgroups.max > 64)
    return `${ctx.describe()}: subgroups up to ${ctx.subgroups.max} lanes, wider than the head's workgroups`;
  return undefined;
}

test('ssd head: the subgroup score pass is chosen, forced and refused as the device allows', async (t) => {
  const ctx = await gpu();
  const k = makeCase({ batch: 1, numAnchors: 7, numClasses: 3, scoreFunction: 'sigmoid', seed: 5 });
  const cfg = { batch: 1, numAnchors: 7, numClasses: 3, anchors: k.anchors, spec: k.spec };
  const make = (subgroups?: boolean) =>
    SsdHead.create(ctx, {
      ...cfg,
      maxDetectionsCap: 3,
      candidateCap: 4,
      ...(subgroups === undefined ? {} : { subgroups }),
    });
  const plain = await make(false);
  assert.equal(plain.usesSubgroups, false);
  plain.destroy();
  const skip = subgroupSkipReason(ctx);
  if (skip) {
    await assert.rejects(make(true), /subgroups/);
    t.skip(`subgroup score pass not tested: ${skip}`);
    return;
  }
  t.diagnostic(`subgroup sizes ${ctx.subgroups!.min}..${ctx.subgroups!.max} on ${ctx.describe()}`);
  const forced = await make(true);
  assert.equal(forced.usesSubgroups, true);
  forced.destroy();
});

interface Run {
  shape: CaseShape;
  candidateCap: number;
  maxDetectionsCap?: number;
  /** Wanted thresholds, moved by the case to a safe gap. */
  score: number;
  iou: number;
  maxDetections: number;
  perClassNms: boolean;
  allowedClasses?: (c: number) => boolean;
}

/** Runs the GPU head on a case and checks every image against the reference; returns the counts. */
async function check(r: Run): Promise<{ candidates: number; considered: number }[]> {
  const ctx = await gpu();
  const k = makeCase(r.shape);
  const opts: HeadOptions = {
    scoreThreshold: safeThreshold(r.score, k.scores),
    iouThreshold: safeThreshold(r.iou, k.ious),
    maxDetections: r.maxDetections,
    perClassNms: r.perClassNms,
    ...(r.allowedClasses
      ? { allowedClasses: Array.from({ length: k.numClasses }, (_, c) => r.allowedClasses!(c)) }
      : {}),
  };
  const cap = r.maxDetectionsCap ?? r.maxDetections;
  let plainOut: Uint32Array | undefined;
  let counts: { candidates: number; considered: number }[] = [];
  for (const subgroups of headPaths(ctx)) {
    const out = await runPath(ctx, r, k, opts, cap, subgroups);
    counts = checkOutput(r, k, opts, cap, out, subgroups ? 'subgroups' : 'plain');
    if (!plainOut) plainOut = new Uint32Array(out);
    else assert.deepEqual(new Uint32Array(out), plainOut, 'subgroup score pass: output differs from the plain pass');
  }
  return counts;
}

async function runPath(
  ctx: GpuContext,
  r: Run,
  k: HeadCase,
  opts: HeadOptions,
  cap: number,
  subgroups: boolean,
): Promise<ArrayBuffer> {
  const head = await SsdHead.create(ctx, {
    batch: k.batch,
    numAnchors: k.numAnchors,
    numClasses: k.numClasses,
    anchors: k.anchors,
    spec: k.spec,
    maxDetectionsCap: cap,
    candidateCap: r.candidateCap,
    subgroups,
  });
  const boxes = storage(ctx, k.boxes);
  const logits = storage(ctx, k.logits);
  try {
    head.setOptions(opts);
    return await execute(ctx, head.dispatches({ buffer: boxes }, { buffer: logits }), head);
  } finally {
    head.destroy();
    boxes.destroy();
    logits.destroy();
  }
}

/** Checks one path's output against the reference for every image; returns the counts. */
function checkOutput(
  r: Run,
  k: HeadCase,
  opts: HeadOptions,
  cap: number,
  out: ArrayBuffer,
  path: string,
): { candidates: number; considered: number }[] {
  const got = parseDetections(out, k.batch, cap);
  const counts = parseCandidateCounts(out, k.batch, cap);
  for (let i = 0; i < k.batch; i++) {
    const img = imageOf(k, i);
    const what = `${path}: image ${i} (thr ${opts.scoreThreshold.toFixed(4)}, iou ${opts.iouThreshold.toFixed(4)})`;
    const expectCandidates = candidateCount(k, i, opts);
    assert.equal(counts[i]!.candidates, expectCandidates, `${what}: candidates`);
    assert.equal(counts[i]!.considered, Math.min(expectCandidates, r.candidateCap), `${what}: candidates entering NMS`);
    const ref = ssdHeadRef(
      img.boxes,
      img.logits,
      k.anchors,
      k.numClasses,
      { spec: k.spec, candidateCap: r.candidateCap },
      opts,
    );
    assertSameDetections(got[i]!, ref, what);
  }
  return counts;
}

for (const numAnchors of [1, 7, 1917, 5118]) {
  for (const numClasses of [2, 3, 24, 91]) {
    const small = numAnchors <= 7;
    const base = { candidateCap: small ? 4 : 1024, maxDetections: small ? 3 : 100 };
    const seed = numAnchors * 1000 + numClasses;
    test(`ssd head vs reference: A=${numAnchors} C=${numClasses}`, async () => {
      let overCap = false;
      const note = (counts: { candidates: number; considered: number }[]) =>
        (overCap ||= counts.some((c) => c.candidates > c.considered));
      note(
        await check({
          ...base,
          shape: { batch: 1, numAnchors, numClasses, scoreFunction: 'sigmoid', seed },
          score: 0.5,
          iou: 0.5,
          perClassNms: false,
        }),
      );
      note(
        await check({
          ...base,
          shape: { batch: 3, numAnchors, numClasses, scoreFunction: 'sigmoid', seed: seed + 1 },
          score: 0.1,
          iou: 0.3,
          perClassNms: true,
        }),
      );
      note(
        await check({
          ...base,
          shape: { batch: 3, numAnchors, numClasses, scoreFunction: 'sigmoid', seed: seed + 2 },
          score: 0.9,
          iou: 0.7,
          perClassNms: false,
        }),
      );
      note(
        await check({
          ...base,
          shape: { batch: numClasses % 2 ? 3 : 1, numAnchors, numClasses, scoreFunction: 'softmax', seed: seed + 3 },
          score: 0.05,
          iou: 0.5,
          perClassNms: numClasses > 3,
        }),
      );
      note(
        await check({
          ...base,
          shape: { batch: 2, numAnchors, numClasses, scoreFunction: 'probability', seed: seed + 4 },
          score: 0.3,
          iou: 0.6,
          perClassNms: numClasses <= 3,
        }),
      );
      if (numAnchors * (numClasses - 1) > 2 * base.candidateCap)
        assert.ok(overCap, 'no run had more candidates than candidateCap');
    });
  }
}

test('ssd head: candidate caps from 1 to 8192, detections cap above the asked maximum', async () => {
  const shape: CaseShape = { batch: 2, numAnchors: 5118, numClasses: 3, scoreFunction: 'sigmoid', seed: 11 };
  for (const candidateCap of [1, 64, 8192]) {
    const counts = await check({
      shape,
      candidateCap,
      maxDetectionsCap: 300,
      score: 0.02,
      iou: 0.6,
      maxDetections: 250,
      perClassNms: true,
    });
    assert.ok(counts[0]!.candidates > 8192, `want more candidates than the largest cap, got ${counts[0]!.candidates}`);
  }
});

test('ssd head: no background column, allow-list, threshold 0 (every class of every anchor)', async () => {
  const shape: CaseShape = {
    batch: 2,
    numAnchors: 1917,
    numClasses: 24,
    scoreFunction: 'sigmoid',
    backgroundClass: -1,
    seed: 12,
  };
  await check({
    shape,
    candidateCap: 1024,
    score: 0,
    iou: 0.5,
    maxDetections: 100,
    perClassNms: true,
    allowedClasses: (c) => c % 3 !== 1,
  });
  await check({
    shape,
    candidateCap: 1024,
    score: 0.3,
    iou: 0.5,
    maxDetections: 100,
    perClassNms: false,
    allowedClasses: (c) => c === 0 || c === 23,
  });
  await check({
    shape,
    candidateCap: 1024,
    score: 0.3,
    iou: 0.5,
    maxDetections: 100,
    perClassNms: false,
    allowedClasses: () => false,
  });
});

test('ssd head: setOptions changes results without re-creating pipelines or dispatches', async () => {
  const ctx = await gpu();
  for (const subgroups of headPaths(ctx)) await setOptionsCase(ctx, subgroups);
});

async function setOptionsCase(ctx: GpuContext, subgroups: boolean): Promise<void> {
  const k = makeCase({ batch: 2, numAnchors: 1917, numClasses: 24, scoreFunction: 'sigmoid', seed: 21 });
  const cfg = { spec: k.spec, candidateCap: 512 };
  const head = await SsdHead.create(ctx, {
    batch: 2,
    numAnchors: k.numAnchors,
    numClasses: k.numClasses,
    anchors: k.anchors,
    maxDetectionsCap: 50,
    subgroups,
    ...cfg,
  });
  // Boxes and logits in one buffer, as the network's arena holds them.
  const align = ctx.report.limits.minStorageBufferOffsetAlignment ?? 256;
  const logitsAt = Math.ceil((k.boxes.byteLength + 64) / align) * align;
  const arena = new Float32Array((logitsAt + k.logits.byteLength + 64) / 4).fill(Number.NaN);
  arena.set(k.boxes);
  arena.set(k.logits, logitsAt / 4);
  const buffer = storage(ctx, arena);
  const list = head.dispatches(
    { buffer, offset: 0, size: k.boxes.byteLength },
    { buffer, offset: logitsAt, size: k.logits.byteLength },
  );
  const pipelines = ctx.pipelineCount;
  const settings: HeadOptions[] = [
    { scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 50, perClassNms: false },
    {
      scoreThreshold: 0.2,
      iouThreshold: 0.4,
      maxDetections: 50,
      perClassNms: true,
      allowedClasses: Array.from({ length: 24 }, (_, c) => c < 12),
    },
    { scoreThreshold: 0.5, iouThreshold: 0.7, maxDetections: 5, perClassNms: false },
  ];
  const seen = new Set<string>();
  try {
    for (const want of settings) {
      const opts = {
        ...want,
        scoreThreshold: safeThreshold(want.scoreThreshold, k.scores),
        iouThreshold: safeThreshold(want.iouThreshold, k.ious),
      };
      head.setOptions(opts);
      const got = parseDetections(await execute(ctx, list, head), 2, 50);
      for (let i = 0; i < 2; i++) {
        const img = imageOf(k, i);
        assertSameDetections(
          got[i]!,
          ssdHeadRef(img.boxes, img.logits, k.anchors, k.numClasses, cfg, opts),
          `options ${JSON.stringify(want)} image ${i}`,
        );
      }
      seen.add(JSON.stringify(got));
    }
    assert.equal(seen.size, settings.length, 'each option set should give different detections');
    assert.equal(ctx.pipelineCount, pipelines, 'setOptions must not create pipelines');
    assert.throws(() => head.setOptions({ ...settings[0]!, maxDetections: 51 }), /maxDetections/);
  } finally {
    head.destroy();
    buffer.destroy();
  }
}

test('ssd head: exact edges on the GPU (score == threshold kept, IoU == threshold not suppressing, ties)', async () => {
  const ctx = await gpu();
  for (const subgroups of headPaths(ctx)) await exactEdgesCase(ctx, subgroups);
});

async function exactEdgesCase(ctx: GpuContext, subgroups: boolean): Promise<void> {
  // Boxes 0 and 1 overlap with IoU .1875 / .3125 = 0.6 exactly; every score is sigmoid(0) = 0.5.
  const s = scene([
    { box: [0.25, 0.25, 0.75, 0.75], logits: [-20, 0, 0] },
    { box: [0.25, 0.375, 0.75, 0.875], logits: [-20, 0, -20] },
    { box: [0, 0, 0.125, 0.125], logits: [-20, -20, 0] },
  ]);
  const spec = { scales: SCALES, scoreFunction: 'sigmoid' as const, backgroundClass: 0 };
  const head = await SsdHead.create(ctx, {
    batch: 1,
    numAnchors: 3,
    numClasses: 3,
    anchors: s.anchors,
    spec,
    maxDetectionsCap: 10,
    candidateCap: 16,
    subgroups,
  });
  const boxes = storage(ctx, s.boxes);
  const logits = storage(ctx, s.logits);
  const list = head.dispatches({ buffer: boxes }, { buffer: logits });
  const cases: [Partial<HeadOptions>, string[]][] = [
    [{}, ['0:1', '1:1', '2:2']],
    [{ iouThreshold: 0.59 }, ['0:1', '2:2']],
    [{ perClassNms: true }, ['0:1', '0:2', '1:1', '2:2']],
    [{ perClassNms: true, iouThreshold: 0.59 }, ['0:1', '0:2', '2:2']],
    [{ scoreThreshold: 0.5000001 }, []],
  ];
  try {
    for (const [o, want] of cases) {
      const opts: HeadOptions = { scoreThreshold: 0.5, iouThreshold: 0.6, maxDetections: 10, perClassNms: false, ...o };
      head.setOptions(opts);
      const got = parseDetections(await execute(ctx, list, head), 1, 10)[0]!;
      assert.deepEqual(
        got.map((d) => `${d.anchor}:${d.classId}`),
        want,
        JSON.stringify(o),
      );
      assertSameDetections(
        got,
        ssdHeadRef(s.boxes, s.logits, s.anchors, 3, { spec, candidateCap: 16 }, opts),
        JSON.stringify(o),
      );
    }
  } finally {
    head.destroy();
    boxes.destroy();
    logits.destroy();
  }
}
