/**
 * face-api's SSD-MobileNetV1 at 512x512 on TF.js in Node: tfjs-backend-webgpu (on the Dawn adapter
 * our engine would use), tfjs-backend-wasm (SIMD) or tfjs-backend-cpu.
 *
 * One run: upload the 512x512 RGB pixels as a tensor, face-api's toNetInput + forwardInput (its
 * preprocessing x/127.5 - 1, the network, box decoding against its anchors, sigmoid scores), an
 * async readback of the decoded boxes [5118, 4] and scores [5118], then face-api's NMS rule (score
 * > 0.5, IoU 0.5, at most 100) in JS and boxes clipped to [0, 1]: pixels in, final faces out.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { PeerContext } from './context.ts';
import { installNavigatorGpu, peerAdapter } from './dawn.ts';
import { loadFaceApiBundle, type FaceApiBundle, type FaceApiNet } from './face_api_bundle.ts';
import { FACE_IMAGE, facePixels512, packageVersion } from './inputs.ts';
import { greedyNms } from './nms.ts';
import { measureSweep, measureWarm, ownPeakRssMB, type PeerRecord } from './record.ts';

export type TfjsBackend = 'webgpu' | 'wasm' | 'cpu';

const FACE_NMS = { scoreThreshold: 0.5, iouThreshold: 0.5, maxResults: 100 };

interface Face {
  score: number;
  box: [number, number, number, number];
}

function loadFaceApiWeights(tf: typeof TfCore): TfCore.NamedTensorMap {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const manifest = JSON.parse(readFileSync(join(dir, 'ssd_mobilenetv1_model-weights_manifest.json'), 'utf8')) as {
    paths: string[];
    weights: TfCore.io.WeightsManifestEntry[];
  }[];
  const bin = readFileSync(join(dir, manifest[0]!.paths[0]!));
  return tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest[0]!.weights);
}

async function detect(m: FaceApiBundle, net: FaceApiNet, images: TfCore.Tensor3D[]): Promise<Face[][]> {
  const { boxes, scores } = net.forwardInput(await m.faceapi.toNetInput(images));
  try {
    const out: Face[][] = [];
    for (let i = 0; i < images.length; i++) {
      const b = (await boxes[i]!.data()) as Float32Array;
      const s = (await scores[i]!.data()) as Float32Array;
      const clip = (v: number) => Math.min(1, Math.max(0, v));
      out.push(
        greedyNms(b, s, FACE_NMS).map((k) => ({
          score: s[k]!,
          box: [clip(b[4 * k]!), clip(b[4 * k + 1]!), clip(b[4 * k + 2]!), clip(b[4 * k + 3]!)],
        })),
      );
    }
    return out;
  } finally {
    m.tf.dispose([...boxes, ...scores]);
  }
}

/** Selects `backend` and fails unless TF.js really runs on it (it falls back silently otherwise). */
async function selectBackend(
  m: FaceApiBundle,
  backend: TfjsBackend,
  root: string,
): Promise<{ description: string; notes: string[] }> {
  const { tf } = m;
  const notes: string[] = [];
  if (backend === 'wasm') {
    m.setWasmPaths(join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
    m.setThreadsCount(2);
  }
  const ok = await tf.setBackend(backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== backend)
    throw new Error(`TF.js did not initialise the ${backend} backend (it runs on ${tf.getBackend()})`);
  if (backend !== 'wasm') return { description: backend, notes };
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  if (!simd) throw new Error('tfjs-backend-wasm runs without SIMD here; this row is meant to measure the SIMD build');
  const threads = m.getThreadsCount();
  const multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  if (!multithread)
    notes.push(
      "tfjs-backend-wasm's Node build turns threads off (WASM_HAS_MULTITHREAD_SUPPORT is false under Node, and forcing it makes the threaded module fail to initialise), so one thread only: no 2-thread row",
    );
  return { description: `wasm (SIMD, ${threads} thread${threads === 1 ? '' : 's'})`, notes };
}

export async function measureTfjsFace(ctx: PeerContext, backend: TfjsBackend): Promise<Omit<PeerRecord, 'id'>> {
  const pixels = facePixels512();
  const t0 = performance.now();
  let adapterName = 'CPU';
  if (backend === 'webgpu') {
    const a = await peerAdapter(ctx.driver);
    installNavigatorGpu(a.adapter);
    adapterName = a.name;
  }
  const m = await loadFaceApiBundle(ctx.faceApiBundle);
  const { tf } = m;
  const selected = await selectBackend(m, backend, ctx.root);
  const net = new m.faceapi.SsdMobilenetv1();
  net.loadFromWeightMap(loadFaceApiWeights(tf));

  let last: Face[] = [];
  const runOn = async (count: number) => {
    const start = performance.now();
    const images = Array.from({ length: count }, () => tf.tensor3d(pixels, [512, 512, 3], 'int32'));
    const faces = await detect(m, net, images);
    tf.dispose(images);
    last = faces[0]!;
    return performance.now() - start;
  };
  await runOn(1);
  const coldStartMs = performance.now() - t0;
  const measured = await measureWarm(
    { one: () => runOn(1), batch8: () => runOn(8) },
    { runs: backend === 'webgpu' ? ctx.runs.gpu : ctx.runs.cpu, budgetMs: ctx.budgetMs, cpuInThisProcess: true },
  );

  const sweep = ctx.batches
    ? await measureSweep({ one: () => runOn(1), batch: runOn }, ctx.batches, ctx.budgetMs, measured.latency.medianMs)
    : undefined;
  const mem = tf.memory() as TfCore.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const memory =
    backend === 'webgpu'
      ? {
          memoryBytes: mem.numBytesAllocatedInGPU ?? mem.numBytesInGPU ?? null,
          memoryNote: `GPU: tf.memory().numBytesAllocatedInGPU (buffers incl. TF.js's pool); live tensors numBytesInGPU ${mb(mem.numBytesInGPU ?? 0)}`,
        }
      : { memoryBytes: mem.numBytes, memoryNote: 'tf.memory().numBytes: tensor memory in the WASM heap / JS (no GPU)' };
  return {
    model: 'face',
    engine: `TF.js tfjs-backend-${backend} + face-api`,
    backend: selected.description,
    adapter: adapterName,
    timed: `tensor from 512x512 RGB pixels (${FACE_IMAGE}), face-api forwardInput (x/127.5-1, network, box decode, sigmoid), async readback of boxes+scores, face-api's NMS rule in JS (score > 0.5, IoU 0.5, <= 100)`,
    coldStartMs,
    ...measured,
    peakRssMB: ownPeakRssMB(),
    rssScope: 'this Node process (maxRSS)',
    ...memory,
    check: `${last.length} face${last.length === 1 ? '' : 's'}${last.length ? `, best ${last[0]!.score.toFixed(3)}` : ''}`,
    versions: {
      '@tensorflow/tfjs-core': tf.version_core,
      [`@tensorflow/tfjs-backend-${backend}`]: packageVersion(`@tensorflow/tfjs-backend-${backend}`),
      '@vladmandic/face-api': packageVersion('@vladmandic/face-api'),
      node: process.version,
    },
    notes: [...selected.notes, ...measured.notes],
    ...(sweep ? { sweep } : {}),
  };
}
