/// <reference types="@webgpu/types" preserve="true" />
/**
 * mobilessd for browsers: `load()` a converted model (model.json + its weights file) over HTTP,
 * then `detect()` on images, canvases, video elements, VideoFrames or raw RGBA pixels. Runs on
 * navigator.gpu. The detector itself is the same as in Node (api/object_detector.ts);
 * browser/platform.ts is what differs.
 */
import type { DetectorModelInfo } from './api/detector.ts';
import { ObjectDetector as Detector, type ObjectDetectorOptions } from './api/object_detector.ts';
import { browserPlatform, type FetchOptions, type ModelSource } from './browser/platform.ts';
import { indexedDbTuningStore } from './browser/tuning_store.ts';
import type { BrowserImageInput } from './browser/frame_sources.ts';
import { NoAdapterError } from './errors.ts';
import type { AdapterReport } from './gpu/context.ts';
import { getGpuProvider } from './gpu/provider.ts';

export * from './errors.ts';
export type { Box, DetectOptions, Detection, Keypoint, StageTimes } from './detect_types.ts';
export type { LoadStage, SubgroupUse } from './api/detector.ts';
export type { RgbaImage } from './core/image.ts';
export type { AdapterReport } from './gpu/context.ts';
export type { BrowserImageInput, ExternalImage } from './browser/frame_sources.ts';
export type { LoadProgress, ModelFiles, ModelRef, ModelSource } from './browser/platform.ts';

export const DEFAULT_MODEL = 'oid-v4';

export interface LoadOptions extends Omit<ObjectDetectorOptions, 'context' | 'driver'>, FetchOptions {}

export interface ModelInfo extends DetectorModelInfo {
  /** The model.json it was loaded from. */
  url: string;
}

export type ObjectDetector = Detector<BrowserImageInput, { url: string }>;

/**
 * Loads a detector: a model name under `baseUrl` ('oid-v4' by default, 'coco', 'face'), a model.json URL, a model
 * folder URL, `{ url, integrity }` as `mobilessd export-web` lists them in its manifest.json, or `{ files }`: a model
 * folder the user picked or dropped (a trained `mobilessd train --out` folder or an exported one).
 */
export function load(model: ModelSource = DEFAULT_MODEL, options: LoadOptions = {}): Promise<ObjectDetector> {
  // Fail before downloading megabytes of weights when the page cannot run them anyway.
  if (!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
    return Promise.reject(new NoAdapterError('navigator.gpu is missing', getGpuProvider().noAdapterHint('auto')));
  }
  // Tuned GEMM plans persist in IndexedDB, keyed as in Node (adapter, model, input size).
  const tuningStore = indexedDbTuningStore();
  return Detector.create(browserPlatform(options), model, { ...(tuningStore ? { tuningStore } : {}), ...options });
}

/** The adapter in a few words; browsers often leave `description` empty (Chrome: vendor "google", architecture "swiftshader"). */
export function describeAdapter(a: AdapterReport): string {
  return a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unknown WebGPU adapter';
}
