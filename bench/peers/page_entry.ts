/**
 * `window.mobilessdBench`: times mobilessd inside a page, built as the classic script
 * dist/browser/mobilessd-bench.js. Two ways to drive it:
 *  - `await mobilessdBench({model, runs})` loads the model, runs once cold and `runs` times warm on
 *    samples/dog.jpg, and returns {coldMs, medianMs, p90Ms, runs, ...};
 *  - the peers harness (bench/peers/page_bench.ts) calls open() / one() / batch8() / finish().
 * Files come from `root` (default: the page's origin, laid out as the repository: weights/, samples/);
 * the harness serves the repository under `${origin}/repo/`.
 */
import { describeAdapter, load, type Detection, type ObjectDetector, type StageTimes } from '../../src/browser.ts';
import { median, percentile } from '../../src/gpu/timing.ts';

export interface BenchArgs {
  /** 'oid-v4' (or 'oid') or 'face'. Default 'oid-v4'. */
  model?: string;
  /** Warm runs after the cold one. Default 10. */
  runs?: number;
  /** Base URL of weights/ and samples/. Default: the page's origin. */
  root?: string;
  /** Image to run on, relative to root. Default samples/dog.jpg. */
  image?: string;
}

export interface BenchResult {
  model: string;
  adapter: string;
  /** Model download + checks + compile + the first detection, ms. */
  coldMs: number;
  medianMs: number;
  p90Ms: number;
  runs: number;
  /** Every warm run, ms (wall time of detect() in the page). */
  timesMs: number[];
  /** Medians of the detector's own stage times over the warm runs. */
  stagesMs: { upload: number; gpu: number | null; submitToResult: number };
  detections: string;
}

interface OpenArgs {
  origin: string;
  model?: string;
  quick?: boolean;
}

let session: { detector: ObjectDetector; bitmap: ImageBitmap; last: Detection[] } | undefined;

async function open(model: string, root: string, image: string): Promise<void> {
  session?.detector.dispose();
  session = undefined;
  const name = model === 'oid' ? 'oid-v4' : model;
  const response = await fetch(new URL(image, root));
  if (!response.ok) throw new Error(`${image}: HTTP ${response.status}`);
  const bitmap = await createImageBitmap(await response.blob(), { colorSpaceConversion: 'none' });
  const detector = await load(name, { baseUrl: new URL('weights/', root) });
  session = { detector, bitmap, last: await detector.detect(bitmap) };
}

async function one(): Promise<number> {
  const s = current();
  const t0 = performance.now();
  s.last = await s.detector.detect(s.bitmap);
  return performance.now() - t0;
}

function current(): NonNullable<typeof session> {
  if (!session) throw new Error('mobilessdBench: call open() (or mobilessdBench({...})) first');
  return session;
}

const describe = (d: readonly Detection[]) =>
  d.map((x) => `${x.label} ${x.score.toFixed(3)}`).join(', ') || 'nothing detected';

async function mobilessdBench(args: BenchArgs = {}): Promise<BenchResult> {
  const model = args.model ?? 'oid-v4';
  const runs = args.runs ?? 10;
  const t0 = performance.now();
  await open(model, args.root ?? `${location.origin}/`, args.image ?? 'samples/dog.jpg');
  const coldMs = performance.now() - t0;
  const times: number[] = [];
  const stages: StageTimes[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(await one());
    stages.push(current().detector.lastTimes!);
  }
  const gpu = stages.map((s) => s.gpu).filter((g): g is number => g !== undefined);
  const s = current();
  return {
    model,
    adapter: describeAdapter(s.detector.adapter),
    coldMs,
    medianMs: times.length ? median(times) : Number.NaN,
    p90Ms: times.length ? percentile(times, 90) : Number.NaN,
    runs,
    timesMs: times,
    stagesMs: {
      upload: median(stages.map((x) => x.upload)),
      gpu: gpu.length ? median(gpu) : null,
      submitToResult: median(stages.map((x) => x.submitToResult)),
    },
    detections: describe(s.last),
  };
}

/** The peers harness's PageBench contract. */
const harness = {
  async open(args: OpenArgs) {
    await open(args.model ?? 'oid', `${args.origin}/repo/`, 'samples/dog.jpg');
    const d = current().detector;
    return {
      engine: 'mobilessd in Chromium (WebGPU)',
      backend: 'WebGPU (mobilessd WGSL kernels), navigator.gpu',
      adapter: describeAdapter(d.adapter),
      timed: `detect() on an ImageBitmap of samples/dog.jpg (768x576): copyExternalImageToTexture, GPU resize + normalization, network, GPU SSD head, readback of the detections only`,
      versions: { chromium: navigator.userAgent.replace(/.*Chrome\/(\S+).*/, '$1') },
      notes: [],
    };
  },
  one,
  async batch8(): Promise<number> {
    const s = current();
    const t0 = performance.now();
    s.last = (await s.detector.detectBatch(Array(8).fill(s.bitmap)))[0]!;
    return performance.now() - t0;
  },
  async finish() {
    const s = current();
    const mem = await s.detector.memory();
    return {
      check: describe(s.last),
      memoryBytes: mem.weightBytes + mem.activationBytes,
      memoryNote: `GPU: weights ${(mem.weightBytes / 2 ** 20).toFixed(1)} MiB + activation arenas ${(mem.activationBytes / 2 ** 20).toFixed(1)} MiB`,
    };
  },
};

(globalThis as Record<string, unknown>).mobilessdBench = Object.assign(mobilessdBench, harness);
