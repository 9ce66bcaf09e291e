/**
 * mobilessd's own rows of the peers benchmark, in Node on the same Dawn adapter as the WebGPU peers:
 *  - face / oid sections: the product path, pixels in memory to final detections in JS (texture
 *    upload, GPU preprocessing, network, GPU SSD head, readback of the detections only);
 *  - backbone section: what ONNX Runtime is timed on, the raw network on a preprocessed float tensor
 *    with both raw outputs read back (a path the product never takes: it decodes on the GPU).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { load } from '../../src/index.ts';
import { GraphExecutor, packModelWeights } from '../../src/graph/executor.ts';
import { runRawOutputs } from '../../src/graph/raw.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { installNodeGpu } from '../../src/node_gpu.ts';
import { resolveModel } from '../../src/node/model_registry.ts';
import type { PeerContext } from './context.ts';
import { readBackboneInfo, bestScore } from './backbone.ts';
import { FACE_IMAGE, OID_IMAGE, faceModelInput, facePixels512, packageVersion } from './inputs.ts';
import { measureSweep, measureWarm, ownPeakRssMB, type PeerRecord } from './record.ts';

const VERSIONS = () => ({
  mobilessd: JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')).version as string,
  webgpu: packageVersion('webgpu'),
  node: process.version,
});

/** The face or Open Images model end to end, from RGBA pixels in memory to detections. */
export async function measureMobilessd(ctx: PeerContext, which: 'face' | 'oid'): Promise<Omit<PeerRecord, 'id'>> {
  const rgba =
    which === 'face'
      ? (() => {
          const rgb = facePixels512();
          const out = new Uint8Array(512 * 512 * 4);
          for (let i = 0; i < 512 * 512; i++) out.set([rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!, 255], 4 * i);
          return { data: out, width: 512, height: 512 };
        })()
      : (() => {
          const img = jpeg.decode(readFileSync(join(ctx.root, OID_IMAGE)), { useTArray: true, formatAsRGBA: true });
          return { data: img.data, width: img.width, height: img.height };
        })();
  const t0 = performance.now();
  const det = await load(which === 'face' ? 'face' : 'oid-v4', { driver: ctx.driver });
  let last = await det.detect(rgba);
  const coldStartMs = performance.now() - t0;
  const timedRun = async (n: number) => {
    const s = performance.now();
    const r = n === 1 ? [await det.detect(rgba)] : await det.detectBatch(Array(n).fill(rgba));
    last = r[0]!;
    return performance.now() - s;
  };
  const measured = await measureWarm(
    { one: () => timedRun(1), batch8: () => timedRun(8) },
    { runs: ctx.runs.gpu, budgetMs: ctx.budgetMs },
  );
  // The memory plan each batch size compiled: one arena for the whole batch, or for each chunk of it.
  const describe = async (n: number) => {
    const s = await det.stats(n);
    const chunks = Math.ceil(n / s.batch);
    return `arena ${(s.activationBytes / 2 ** 20).toFixed(1)} MiB${chunks > 1 ? ` (${chunks} chunks of ${s.batch})` : ''}`;
  };
  const sweep = ctx.batches
    ? await measureSweep(
        { one: () => timedRun(1), batch: timedRun, describe },
        ctx.batches,
        ctx.budgetMs,
        measured.latency.medianMs,
      )
    : undefined;
  const mem = await det.memory();
  const record: Omit<PeerRecord, 'id'> = {
    model: which,
    engine: 'mobilessd (Node, Dawn)',
    backend: 'WebGPU (mobilessd WGSL kernels)',
    adapter: det.adapter.description,
    timed:
      which === 'face'
        ? `detect() on the same 512x512 RGB pixels (${FACE_IMAGE}) as RGBA: texture upload, GPU preprocessing, network, GPU SSD head (score > 0.5, IoU 0.5, <= 100), readback of the detections only`
        : `detect() on ${OID_IMAGE} (768x576 RGBA in memory): texture upload, GPU resize + normalization, network, GPU SSD head, readback of the detections only`,
    coldStartMs,
    ...measured,
    peakRssMB: ownPeakRssMB(),
    rssScope: 'this Node process (maxRSS)',
    memoryBytes: mem.weightBytes + mem.activationBytes,
    memoryNote: `GPU: weights ${(mem.weightBytes / 2 ** 20).toFixed(1)} MiB + activation arenas ${(mem.activationBytes / 2 ** 20).toFixed(1)} MiB (batch 1 and 8 plans)`,
    check:
      which === 'face'
        ? `${last.length} faces${last.length ? `, best ${last[0]!.score.toFixed(3)}` : ''}`
        : last.map((d) => `${d.label} ${d.score.toFixed(3)}`).join(', '),
    versions: VERSIONS(),
    notes: [],
    ...(sweep ? { sweep } : {}),
  };
  det.dispose();
  return record;
}

/** The raw network only, exactly what the ONNX Runtime rows time. */
export async function measureMobilessdBackbone(ctx: PeerContext): Promise<Omit<PeerRecord, 'id'>> {
  const info = readBackboneInfo(ctx.onnxPath);
  const one = faceModelInput(info.preprocess);
  const eight = new Float32Array(8 * one.length);
  for (let i = 0; i < 8; i++) eight.set(one, i * one.length);
  const t0 = performance.now();
  installNodeGpu();
  const gpu = await GpuContext.acquire({ driver: ctx.driver });
  const model = await resolveModel(ctx.backbone);
  const weights = packModelWeights(gpu, model);
  const ex1 = await GraphExecutor.create(gpu, model, weights, 1);
  let firstLogits: Float32Array | undefined;
  const run = async (ex: GraphExecutor, input: Float32Array) => {
    const s = performance.now();
    const out = await runRawOutputs(gpu, ex, input);
    firstLogits ??= out.get(ex.lowered.outputs.scores);
    return performance.now() - s;
  };
  await run(ex1, one);
  const coldStartMs = performance.now() - t0;
  let ex8: GraphExecutor | undefined;
  const executors = new Map<number, { ex: GraphExecutor; input: Float32Array }>();
  const runBatch = async (n: number) => {
    let e = executors.get(n);
    if (!e) {
      const input = new Float32Array(n * one.length);
      for (let i = 0; i < n; i++) input.set(one, i * one.length);
      // One executor at a time: a large batch's arena is most of what the adapter holds.
      for (const old of executors.values()) old.ex.destroy();
      executors.clear();
      e = { ex: await GraphExecutor.create(gpu, model, weights, n), input };
      executors.set(n, e);
    }
    return run(e.ex, e.input);
  };
  const measured = await measureWarm(
    {
      one: () => run(ex1, one),
      batch8: async () => {
        ex8 ??= await GraphExecutor.create(gpu, model, weights, 8);
        return run(ex8, eight);
      },
    },
    { runs: ctx.runs.gpu, budgetMs: ctx.budgetMs },
  );
  const sweep = ctx.batches
    ? await measureSweep(
        {
          one: () => run(ex1, one),
          batch: runBatch,
          describe: async (n) => `arena ${(executors.get(n)!.ex.stats.activationBytes / 2 ** 20).toFixed(1)} MiB`,
        },
        ctx.batches,
        ctx.budgetMs,
        measured.latency.medianMs,
      )
    : undefined;
  const record: Omit<PeerRecord, 'id'> = {
    model: 'backbone',
    engine: 'mobilessd (Node, Dawn)',
    backend: 'WebGPU (mobilessd WGSL kernels)',
    adapter: gpu.report.description,
    timed: `input tensor upload [1,${info.preprocess.height},${info.preprocess.width},3], the network, both raw outputs read back to JS; no anchor decoding or NMS (as the ONNX Runtime rows)`,
    coldStartMs,
    ...measured,
    peakRssMB: ownPeakRssMB(),
    rssScope: 'this Node process (maxRSS)',
    memoryBytes: weights.byteLength + ex1.stats.activationBytes + (ex8?.stats.activationBytes ?? 0),
    memoryNote: 'GPU: packed weights + activation arenas (batch 1 and 8)',
    check: `best score ${bestScore(firstLogits!, info).toFixed(3)}`,
    versions: VERSIONS(),
    notes: [],
    ...(sweep ? { sweep } : {}),
  };
  gpu.destroy();
  return record;
}
