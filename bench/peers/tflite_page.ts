/**
 * The TFLite peer's page side: `installTflitePageBench` is serialised by playwright and run inside
 * the page, so it must not reference anything outside its own body (no imports, no module
 * variables); TF.js and TFLite are the UMD globals `tf` and `tflite` the page loads in open().
 */
import type { PageBench, PageEngineInfo, PageOpenArgs, PageResultInfo } from './page_bench.ts';

export interface TflitePageUrls {
  /** UMD bundles in load order: tfjs-core, tfjs-backend-cpu, tfjs-tflite. */
  scripts: string[];
  wasmPath: string;
  model: string;
  /** float32 NHWC [1, 300, 300, 3]. */
  input: string;
  inputShape: number[];
  /** Logit columns of the class output (background at column 0). */
  classes: number;
  scoresOutput: string;
}

interface TfTensor {
  dataSync(): Float32Array;
  dispose(): void;
}

interface PageGlobals {
  tf: {
    tensor(data: Float32Array, shape: number[], dtype: 'float32'): TfTensor;
    setBackend(name: string): Promise<boolean>;
    getBackend(): string;
    version_core: string;
  };
  tflite: {
    setWasmPath(path: string): void;
    loadTFLiteModel(
      url: string,
      options: { numThreads: number },
    ): Promise<{ predict(x: TfTensor): Record<string, TfTensor> | TfTensor; outputs: { name: string }[] }>;
  };
}

export function installTflitePageBench([global, urls]: readonly [string, TflitePageUrls]): void {
  const g = globalThis as unknown as PageGlobals;
  let model: Awaited<ReturnType<PageGlobals['tflite']['loadTFLiteModel']>> | undefined;
  let input = new Float32Array(0);
  let lastScores: Float32Array = new Float32Array(0);
  const load = (src: string) =>
    new Promise<void>((ok, fail) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => ok();
      s.onerror = () => fail(new Error(`could not load ${src}`));
      document.head.append(s);
    });
  const bench: PageBench = {
    async open(args: PageOpenArgs): Promise<PageEngineInfo> {
      for (const src of urls.scripts) await load(src);
      // TF.js tensors carry the input and outputs; TFLite's own WASM runtime does the inference.
      await g.tf.setBackend('cpu');
      g.tflite.setWasmPath(urls.wasmPath);
      const threads = args.threads ?? 1;
      model = await g.tflite.loadTFLiteModel(urls.model, { numThreads: threads });
      input = new Float32Array(await (await fetch(urls.input)).arrayBuffer());
      return {
        engine: 'TFLite WASM runtime (@tensorflow/tfjs-tflite) in Chromium',
        backend: `TFLite WASM, numThreads ${threads}, crossOriginIsolated ${self.crossOriginIsolated}; TF.js backend ${g.tf.getBackend()} for the tensors`,
        adapter: 'CPU',
        timed:
          'tf.tensor from the preprocessed float NHWC input [1,300,300,3], TFLiteModel.predict, dataSync of both raw outputs (box encodings, class logits); no anchor decoding or NMS (not part of the model)',
        versions: {
          '@tensorflow/tfjs-core': g.tf.version_core,
          chromium: navigator.userAgent.replace(/.*Chrome\/(\S+).*/, '$1'),
        },
        notes: [],
      };
    },
    async one(): Promise<number> {
      const start = performance.now();
      const x = g.tf.tensor(input, urls.inputShape, 'float32');
      const out = model!.predict(x);
      const named = 'dataSync' in out ? { [model!.outputs[0]!.name]: out as TfTensor } : out;
      for (const [name, t] of Object.entries(named)) {
        const data = t.dataSync();
        if (name === urls.scoresOutput) lastScores = data;
        t.dispose();
      }
      x.dispose();
      return performance.now() - start;
    },
    async finish(): Promise<PageResultInfo> {
      if (!lastScores.length) throw new Error(`the model gave no output named ${urls.scoresOutput}`);
      let best = 0;
      for (let i = 0; i < lastScores.length; i++)
        if (i % urls.classes !== 0) best = Math.max(best, 1 / (1 + Math.exp(-lastScores[i]!)));
      return {
        check: `best object score ${best.toFixed(3)}`,
        memoryBytes: null,
        memoryNote: 'n/a: the TFLite runtime does not report its memory',
      };
    },
  };
  (window as unknown as Record<string, PageBench>)[global] = bench;
}
