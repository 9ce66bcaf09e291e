// Types of postprocess.mjs for the TypeScript tests that use it as an independent oracle.
export interface MediaPipeFace {
  anchor: number;
  score: number;
  box: { ymin: number; xmin: number; ymax: number; xmax: number };
  keypoints: { x: number; y: number }[];
  clusterSize?: number;
}

export function mediapipeSsdAnchors(options?: Record<string, unknown>): [number, number, number, number][];

export function blazefaceDetections(
  raw: ArrayLike<number>,
  logits: ArrayLike<number>,
  anchors: readonly (readonly number[])[],
  options: { scale: number; minScore: number; numKeypoints?: number; iouThreshold?: number },
): MediaPipeFace[];
