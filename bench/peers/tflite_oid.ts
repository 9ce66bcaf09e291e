/**
 * The Open Images SSD-MobileNetV2 (300x300, the .tflite inside @mediapipe/objectron) on TFLite's own
 * WASM runtime (@tensorflow/tfjs-tflite, XNNPACK) in headless Chromium, 1 or 2 threads. The model
 * has no post-processing op: one run ends at its raw outputs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PreprocessSpec } from '../../src/core/model_spec.ts';
import { withChromiumPage, type Routes } from './chromium.ts';
import type { PeerContext } from './context.ts';
import { dogModelInput, OID_IMAGE, packageVersion } from './inputs.ts';
import { finishPageBench, openPageBench } from './page_bench.ts';
import { measureWarm, type PeerRecord } from './record.ts';
import { installTflitePageBench, type TflitePageUrls } from './tflite_page.ts';

const PACKED_ASSETS = 'node_modules/@mediapipe/objectron/objectron_solution_packed_assets.data';
/** Bytes 0..184 of the packed assets are the label map; the .tflite follows. */
const TFLITE_OFFSET = 184;
const OID_SPEC: PreprocessSpec = {
  width: 300,
  height: 300,
  resize: 'stretch',
  halfPixelCenters: true,
  mean: 127.5,
  std: 127.5,
};
const GLOBAL = 'tflitePeerBench';

function oidTflite(root: string): Uint8Array {
  const bytes = new Uint8Array(readFileSync(join(root, PACKED_ASSETS)).subarray(TFLITE_OFFSET));
  if (new TextDecoder().decode(bytes.subarray(4, 8)) !== 'TFL3')
    throw new Error(`no TFLite model at byte ${TFLITE_OFFSET} of ${PACKED_ASSETS}`);
  return bytes;
}

export async function measureTfliteOid(ctx: PeerContext, threads: 1 | 2): Promise<Omit<PeerRecord, 'id'>> {
  const input = dogModelInput(OID_SPEC);
  const tfliteDir = join(ctx.root, 'node_modules/@tensorflow/tfjs-tflite');
  const routes: Routes = {
    files: new Map<string, string | Uint8Array>([
      ['/vendor/tf-core.min.js', join(ctx.root, 'node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js')],
      [
        '/vendor/tf-backend-cpu.min.js',
        join(ctx.root, 'node_modules/@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js'),
      ],
      ['/vendor/tf-tflite.min.js', join(tfliteDir, 'dist/tf-tflite.min.js')],
      ['/model/oid.tflite', oidTflite(ctx.root)],
      ['/input/oid.bin', new Uint8Array(input.buffer, input.byteOffset, input.byteLength)],
    ]),
    folders: new Map([['/tflite-wasm/', join(tfliteDir, 'wasm')]]),
  };
  const urls: TflitePageUrls = {
    scripts: ['/vendor/tf-core.min.js', '/vendor/tf-backend-cpu.min.js', '/vendor/tf-tflite.min.js'],
    wasmPath: '/tflite-wasm/',
    model: '/model/oid.tflite',
    input: '/input/oid.bin',
    inputShape: [1, 300, 300, 3],
    classes: 24,
    scoresOutput: 'raw_outputs/class_predictions',
  };
  return withChromiumPage(routes, async ({ page, origin, requested, browserVersion, chromiumPeakRssMB }) => {
    await page.evaluate(installTflitePageBench, [GLOBAL, urls] as const);
    const t0 = performance.now();
    const { info, engine } = await openPageBench(page, GLOBAL, { origin, model: 'oid', quick: ctx.quick, threads });
    await engine.one();
    const coldStartMs = performance.now() - t0;
    // tfjs-tflite picks its WASM build itself: make sure a threaded one ran when 2 threads were asked for.
    const wasm = [
      ...new Set(
        requested
          .filter((p) => p.startsWith('/tflite-wasm/') && p.endsWith('.wasm'))
          .map((p) => p.slice('/tflite-wasm/'.length)),
      ),
    ];
    if (threads > 1 && !wasm.some((w) => w.includes('threaded')))
      throw new Error(
        `asked for ${threads} threads but TFLite loaded ${wasm.join(', ') || 'no wasm'} (not a threaded build)`,
      );
    const measured = await measureWarm(engine, { runs: ctx.runs.cpu, budgetMs: ctx.budgetMs });
    const result = await finishPageBench(page, GLOBAL);
    return {
      model: 'oid',
      engine: info.engine,
      backend: `${info.backend}; WASM module ${wasm.join(', ')}`,
      adapter: info.adapter,
      timed: `${info.timed}. Input: ${OID_IMAGE} stretched to 300x300, x/127.5-1`,
      coldStartMs,
      ...measured,
      peakRssMB: chromiumPeakRssMB(),
      rssScope: 'Chromium process tree (sum of each process peak VmHWM; an upper bound)',
      ...result,
      versions: {
        ...info.versions,
        '@tensorflow/tfjs-tflite': packageVersion('@tensorflow/tfjs-tflite'),
        chromium: browserVersion,
        'playwright-core': packageVersion('playwright-core'),
      },
      notes: [...info.notes, ...measured.notes],
    };
  });
}
