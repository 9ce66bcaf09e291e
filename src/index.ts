/// <reference types="@webgpu/types" preserve="true" />
/**
 * mobilessd for Node: `load()` a detector by model name or path, then `detect()` on image files,
 * encoded bytes (JPEG/PNG) or raw RGBA pixels. Runs on WebGPU through Dawn. The detector itself is
 * the same as in browsers (api/object_detector.ts); node/platform.ts is what differs.
 */
import type { DetectorModelInfo } from './api/detector.ts';
import { ObjectDetector as Detector, type ObjectDetectorOptions } from './api/object_detector.ts';
import { GpuContext, type AcquireOptions } from './gpu/context.ts';
import { DEFAULT_MODEL } from './node/model_registry.ts';
import { nodePlatform, type ImageInput, type NodeModelOptions } from './node/platform.ts';
import { installNodeGpu } from './node_gpu.ts';
import { nodeTuningStore } from './node/tuning_store.ts';

export * from './errors.ts';
export type { Box, DetectOptions, Detection, Keypoint, StageTimes } from './detect_types.ts';
export type { LoadStage, SubgroupUse } from './api/detector.ts';
export type { RgbaImage } from './core/image.ts';
export type { AdapterReport, GpuContext, LiveResources, SubgroupSizes } from './gpu/context.ts';
export type { ExecutorStats } from './graph/executor.ts';
export type { AnchorSizing } from './ssd/resize_input.ts';
export type { ImageInput } from './node/platform.ts';
export { BUNDLED_MODELS, DEFAULT_MODEL } from './node/model_registry.ts';

/**
 * `context` runs the detector on a device you created with createGpuContext() and share with other
 * detectors. You own it: destroy() it after disposing its detectors. If that device is lost, the
 * detectors on it reject every call with DeviceLostError (they cannot replace a device others use):
 * create a new context and load them again. A detector without `context` owns its device and
 * re-creates it by itself on the call after a loss.
 */
export interface LoadOptions extends ObjectDetectorOptions, NodeModelOptions {
  /** Dawn toggles, e.g. ['enable-dawn-features=disable_robustness']. */
  toggles?: string[];
}

export interface ModelInfo extends DetectorModelInfo {
  /** Where the converted model lives. */
  dir: string;
}

export type ObjectDetector = Detector<ImageInput, { dir: string }>;

/** A GPU device to share between detectors (`load(model, { context })`); the caller destroys it. */
export async function createGpuContext(options: AcquireOptions & { toggles?: string[] } = {}): Promise<GpuContext> {
  installNodeGpu(options.toggles);
  return GpuContext.acquire(options);
}

/** Loads a detector: 'oid-v4' (default), 'coco', 'face', 'blazeface', 'blazeface-full', or a path to a .tflite / TF.js manifest / converted model. */
export function load(model: string = DEFAULT_MODEL, options: LoadOptions = {}): Promise<ObjectDetector> {
  installNodeGpu(options.toggles);
  return Detector.create(nodePlatform(options), model, { tuningStore: nodeTuningStore(), ...options });
}
