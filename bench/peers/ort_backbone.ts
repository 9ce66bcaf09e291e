/**
 * Our network (written as ONNX by the driver) on ONNX Runtime: onnxruntime-node (CPU EP),
 * onnxruntime-web's wasm EP (1 or 2 threads), and onnxruntime-web's WebGPU EP in Node on the Dawn
 * adapter our engine would use, in both of its implementations: the native WebGPU EP
 * (`onnxruntime-web/webgpu`) and the older JavaScript one, JSEP (`onnxruntime-web/all`).
 *
 * One run: wrap the preprocessed float NHWC input in an ort.Tensor, session.run, outputs (raw box
 * encodings and class logits) in JS memory. Image preprocessing, anchor decoding and NMS are not
 * part of the graph and not timed.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type * as OrtWeb from 'onnxruntime-web';
import { bestScore, readBackboneInfo } from './backbone.ts';
import type { PeerContext } from './context.ts';
import { copySharedArrayBufferWrites, installNavigatorGpu, peerAdapter } from './dawn.ts';
import { faceModelInput, packageVersion } from './inputs.ts';
import { measureSweep, measureWarm, ownPeakRssMB, type PeerRecord } from './record.ts';

export type OrtVariant =
  | { runtime: 'node' }
  | { runtime: 'web-wasm'; threads: 1 | 2 }
  | { runtime: 'web-webgpu' }
  | { runtime: 'web-webgpu-jsep' };

type Ort = typeof OrtWeb;

interface Loaded {
  ort: Ort;
  sessionOptions: OrtWeb.InferenceSession.SessionOptions;
  engine: string;
  backend: string;
  adapter: string;
  versions: Record<string, string>;
  notes: string[];
  /** Throws unless the session really computed on the backend it was given. */
  verify?: () => Promise<void>;
}

/** Counts queue submits so a WebGPU row can prove the GPU did the work. */
function countSubmits(): () => number {
  let n = 0;
  const original = GPUQueue.prototype.submit;
  GPUQueue.prototype.submit = function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
    n++;
    return original.call(this, buffers);
  };
  return () => n;
}

async function loadRuntime(ctx: PeerContext, v: OrtVariant): Promise<Loaded> {
  if (v.runtime === 'node') {
    const ort = (await import('onnxruntime-node')) as unknown as Ort;
    const threads = availableParallelism();
    return {
      ort,
      sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: threads },
      engine: 'onnxruntime-node',
      backend: `CPU EP (native, ${threads} intra-op threads)`,
      adapter: 'CPU',
      versions: { 'onnxruntime-node': packageVersion('onnxruntime-node') },
      notes: [],
    };
  }
  if (v.runtime === 'web-wasm') {
    const ort = (await import('onnxruntime-web')) as unknown as Ort;
    ort.env.wasm.numThreads = v.threads;
    return {
      ort,
      sessionOptions: { executionProviders: ['wasm'] },
      engine: 'onnxruntime-web',
      backend: `wasm EP (SIMD, ${v.threads} thread${v.threads === 1 ? '' : 's'})`,
      adapter: 'CPU',
      versions: { 'onnxruntime-web': packageVersion('onnxruntime-web') },
      notes: [],
      verify: async () => {
        if (ort.env.wasm.numThreads !== v.threads)
          throw new Error(`onnxruntime-web runs ${ort.env.wasm.numThreads} threads, not ${v.threads}`);
      },
    };
  }
  const { adapter, name } = await peerAdapter(ctx.driver);
  installNavigatorGpu(adapter);
  copySharedArrayBufferWrites();
  const submits = countSubmits();
  const jsep = v.runtime === 'web-webgpu-jsep';
  const ort = (await import(jsep ? 'onnxruntime-web/all' : 'onnxruntime-web/webgpu')) as unknown as Ort;
  ort.env.webgpu.adapter = adapter;
  return {
    ort,
    sessionOptions: { executionProviders: ['webgpu'] },
    engine: jsep ? 'onnxruntime-web/all (JSEP)' : 'onnxruntime-web/webgpu',
    backend: jsep ? 'WebGPU EP, JavaScript kernels (JSEP)' : 'WebGPU EP, native (C++ compiled to WASM)',
    adapter: name,
    versions: { 'onnxruntime-web': packageVersion('onnxruntime-web'), webgpu: packageVersion('webgpu') },
    notes: [
      'Dawn rejects writeBuffer from a SharedArrayBuffer: the harness copies such writes into an ArrayBuffer (included in the timings)',
    ],
    verify: async () => {
      const device = await ort.env.webgpu.device;
      if (!(device instanceof GPUDevice))
        throw new Error('onnxruntime-web has no WebGPU device: the WebGPU EP did not initialise');
      if (submits() === 0) throw new Error('the run submitted no GPU work: onnxruntime-web did not compute on WebGPU');
    },
  };
}

export async function measureOrtBackbone(ctx: PeerContext, v: OrtVariant): Promise<Omit<PeerRecord, 'id'>> {
  const info = readBackboneInfo(ctx.onnxPath);
  const { height: H, width: W } = info.preprocess;
  const one = faceModelInput(info.preprocess);
  const eight = new Float32Array(8 * one.length);
  for (let i = 0; i < 8; i++) eight.set(one, i * one.length);
  const modelBytes = readFileSync(ctx.onnxPath);

  const t0 = performance.now();
  const rt = await loadRuntime(ctx, v);
  const { ort } = rt;
  const session = await ort.InferenceSession.create(
    new Uint8Array(modelBytes.buffer, modelBytes.byteOffset, modelBytes.byteLength),
    { ...rt.sessionOptions, graphOptimizationLevel: 'all' },
  );
  let firstLogits: Float32Array | undefined;
  const run = async (data: Float32Array, batch: number) => {
    const start = performance.now();
    const out = await session.run({ [info.input]: new ort.Tensor('float32', data, [batch, H, W, 3]) });
    const boxes = out[info.outputs.boxes];
    const scores = out[info.outputs.scores];
    if (!boxes || !scores)
      throw new Error(
        `the session gave ${Object.keys(out).join(', ')}, not ${info.outputs.boxes} and ${info.outputs.scores}`,
      );
    const logits = (await scores.getData()) as Float32Array;
    await boxes.getData();
    firstLogits ??= logits;
    const ms = performance.now() - start;
    boxes.dispose();
    scores.dispose();
    return ms;
  };
  await run(one, 1);
  const coldStartMs = performance.now() - t0;
  await rt.verify?.();
  const gpu = v.runtime === 'web-webgpu' || v.runtime === 'web-webgpu-jsep';
  const measured = await measureWarm(
    { one: () => run(one, 1), batch8: () => run(eight, 8) },
    { runs: gpu ? ctx.runs.gpu : ctx.runs.cpu, budgetMs: ctx.budgetMs, cpuInThisProcess: true },
  );
  const inputs = new Map<number, Float32Array>();
  const batchOf = (n: number) => {
    let data = inputs.get(n);
    if (!data) {
      data = new Float32Array(n * one.length);
      for (let i = 0; i < n; i++) data.set(one, i * one.length);
      inputs.set(n, data);
    }
    return run(data, n);
  };
  const sweep = ctx.batches
    ? await measureSweep(
        { one: () => run(one, 1), batch: batchOf },
        ctx.batches,
        ctx.budgetMs,
        measured.latency.medianMs,
      )
    : undefined;
  const best = bestScore(firstLogits!, info);
  await session.release();
  return {
    model: 'backbone',
    engine: rt.engine,
    backend: rt.backend,
    adapter: rt.adapter,
    timed: `ort.Tensor from the preprocessed float NHWC input [1,${H},${W},3], session.run, raw outputs (box encodings, class logits) read into JS; no anchor decoding or NMS`,
    coldStartMs,
    ...measured,
    peakRssMB: ownPeakRssMB(),
    rssScope: 'this Node process (maxRSS)',
    memoryBytes: null,
    memoryNote: 'n/a: ONNX Runtime does not report its memory',
    check: `best object score ${best.toFixed(3)} (first run)`,
    versions: { ...rt.versions, node: process.version },
    notes: [...rt.notes, ...measured.notes],
    ...(sweep ? { sweep } : {}),
  };
}
