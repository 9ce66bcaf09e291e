/**
 * face-api on the TF.js packages installed here, as one ESM file built with esbuild when the
 * benchmark starts. Why a bundle: face-api's no-bundle build imports `@tensorflow/tfjs` (not
 * installed; it only needs tfjs-core), and tfjs-core's Node entry lacks the chained tensor ops
 * (`tensor.as3D`) face-api calls, which only the ESM sources register. Bundling face-api, tfjs-core
 * and the three backends from their ESM sources gives one tfjs-core instance they all share.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as TfCore from '@tensorflow/tfjs-core';
import type * as TfWasm from '@tensorflow/tfjs-backend-wasm';

/** The part of face-api's API the harness uses. */
export interface FaceApiNet {
  loadFromWeightMap(weights: TfCore.NamedTensorMap): void;
  /** Preprocessing (cast, x/127.5 - 1), the network, box decoding and sigmoid, batched. */
  forwardInput(input: unknown): { boxes: TfCore.Tensor2D[]; scores: TfCore.Tensor1D[] };
}

export interface FaceApiBundle {
  faceapi: {
    SsdMobilenetv1: new () => FaceApiNet;
    toNetInput(inputs: TfCore.Tensor3D | TfCore.Tensor3D[]): Promise<unknown>;
  };
  tf: typeof TfCore;
  setWasmPaths: typeof TfWasm.setWasmPaths;
  setThreadsCount: typeof TfWasm.setThreadsCount;
  getThreadsCount: typeof TfWasm.getThreadsCount;
}

const ENTRY = `
export * as faceapi from '@vladmandic/face-api/dist/face-api.esm-nobundle.js';
export * as tf from '@tensorflow/tfjs-core';
export { setWasmPaths, setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
`;

export async function buildFaceApiBundle(root: string, outfile: string): Promise<void> {
  const esbuild = await import('esbuild');
  const tfjsShim: import('esbuild').Plugin = {
    name: 'face-api-on-tfjs-core',
    setup(build) {
      build.onResolve({ filter: /^@tensorflow\/tfjs\/dist\/index\.js$/ }, () => ({ path: 'tfjs', namespace: 'shim' }));
      // face-api re-exports these backends; the entry imports the ones measured itself.
      build.onResolve({ filter: /^@tensorflow\/tfjs-backend-(webgl|wasm)\/dist\/index\.js$/ }, () => ({
        path: 'none',
        namespace: 'shim',
      }));
      build.onLoad({ filter: /.*/, namespace: 'shim' }, (a) => ({
        contents:
          a.path === 'tfjs'
            ? "export * from '@tensorflow/tfjs-core'; import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';"
            : 'export {};',
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
  mkdirSync(dirname(outfile), { recursive: true });
  await esbuild.build({
    absWorkingDir: root,
    stdin: { contents: ENTRY, resolveDir: root, loader: 'js' },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    mainFields: ['module', 'main'],
    plugins: [tfjsShim],
    logLevel: 'error',
    // The Emscripten glue of tfjs-backend-wasm expects CommonJS's require and __dirname.
    banner: {
      js: "import { createRequire as __peersRequire } from 'node:module'; import { fileURLToPath as __peersPath } from 'node:url'; const require = __peersRequire(import.meta.url); const __filename = __peersPath(import.meta.url); const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    },
  });
}

export async function loadFaceApiBundle(path: string): Promise<FaceApiBundle> {
  return (await import(pathToFileURL(path).href)) as FaceApiBundle;
}
