/** Public result and option types of the detection API (shared by the Node and browser entries). */
export interface Box {
  /** Left, top, width and height in the source image's pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A named point a model regresses beside its box (BlazeFace: eyes, nose tip, mouth, ear tragions). */
export interface Keypoint {
  name: string;
  /** In the source image's pixels (not clipped: a point may lie outside the image). */
  x: number;
  y: number;
}

export interface Detection {
  label: string;
  classId: number;
  score: number;
  box: Box;
  /** The model's keypoints for this detection, in its order; absent for models without keypoints. */
  keypoints?: Keypoint[];
}

export interface DetectOptions {
  /** Keep detections scoring at least this (0..1). Default: the model's own (0.5 for the bundled models). */
  scoreThreshold?: number;
  /** Greedy NMS drops a box whose IoU with a kept, higher-scoring box exceeds this (0..1). */
  iouThreshold?: number;
  /** At most this many detections per image (1..maxDetectionsCap). */
  maxDetections?: number;
  /** Suppress only within a class (the SSD paper's recipe) instead of across classes (MediaPipe's). */
  perClassNms?: boolean;
  /**
   * 'greedy' keeps the best box of each overlapping group; 'weighted' (MediaPipe's face graphs) reports it with
   * box and keypoints averaged over the group, weighted by score. Default: the model's ('weighted' for BlazeFace).
   */
  nms?: 'greedy' | 'weighted';
  /** Allow-list of class names or ids; others are never reported. */
  classes?: readonly (string | number)[];
}

/** Wall-clock milliseconds of one detect() call, split by stage. */
export interface StageTimes {
  /** CPU time to hand the frame(s) to the GPU (decode excluded). */
  upload: number;
  /** GPU execution time from timestamp queries, when the adapter has them. */
  gpu: number | undefined;
  /** From submit to results mapped on the CPU (includes the GPU time). */
  submitToResult: number;
  total: number;
}
