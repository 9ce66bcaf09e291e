/**
 * Options of a peers run, parsed from the command line; the driver hands the same flags to every
 * child process, plus the paths of what it prepared (face-api bundle, ONNX file).
 */
import { join, resolve } from 'node:path';
import { flag } from '../lib/setup.ts';
import type { PeerDriver } from './dawn.ts';
import { repoRoot } from './inputs.ts';

export interface PeerContext {
  root: string;
  driver: PeerDriver;
  quick: boolean;
  /** Warm runs wanted for CPU peers and for GPU peers (fewer by default on SwiftShader). */
  runs: { cpu: number; gpu: number };
  /** Per-phase time budget, ms (see MeasurePlan). */
  budgetMs: number;
  /** Model for the ONNX Runtime section: a registry name, a model folder or model.json, or "synthetic". */
  backbone: string;
  /** The ONNX file the driver wrote from `backbone`. */
  onnxPath: string;
  /** face-api + TF.js bundle the driver built. */
  faceApiBundle: string;
  /** Use the face-api bundle as it is (built beforehand, as the GPU server bundle carries it: no esbuild there). */
  faceApiPrebuilt: boolean;
  /** mobilessd's browser benchmark bundle (optional; supplied by the engine's build). */
  browserBundle: string;
  /** With --batches 1,2,4,...: images/s at each batch size (rows that can batch), reported in peers_batch_<driver>.md. */
  batches: number[] | undefined;
}

export const PREPARED_DIR = '.build/peers';

export function parseContext(): PeerContext {
  const root = repoRoot();
  const quick = flag('quick') === 'true';
  const driver = flag('driver', 'lavapipe');
  if (driver !== 'lavapipe' && driver !== 'swiftshader' && driver !== 'hardware')
    throw new Error(`--driver must be lavapipe, swiftshader or hardware, not ${driver}`);
  const explicitRuns = flag('runs');
  const runs = Number(explicitRuns ?? (quick ? 5 : 20));
  if (!(runs >= 1)) throw new Error(`--runs must be a positive number, not ${explicitRuns}`);
  // One inference takes 20-40 s on SwiftShader: a handful of runs already costs minutes.
  const gpuRuns = explicitRuns === undefined && driver === 'swiftshader' ? 3 : runs;
  return {
    root,
    driver,
    quick,
    runs: { cpu: runs, gpu: gpuRuns },
    budgetMs: 1000 * Number(flag('budget-s', quick ? '10' : '60')),
    backbone: flag('backbone', 'face')!,
    onnxPath: resolve(flag('onnx', join(root, PREPARED_DIR, 'backbone.onnx'))!),
    faceApiBundle: resolve(flag('face-api-bundle', join(root, PREPARED_DIR, 'face-api-tfjs.mjs'))!),
    faceApiPrebuilt: flag('face-api-prebuilt') === 'true',
    browserBundle: resolve(flag('browser-bundle', join(root, 'dist/browser/mobilessd-bench.js'))!),
    batches: parseBatches(flag('batches')),
  };
}

function parseBatches(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const sizes = text.split(',').map(Number);
  if (!sizes.every((n) => Number.isInteger(n) && n >= 1)) throw new Error(`--batches ${text}: batch sizes like 1,2,4`);
  return sizes;
}
