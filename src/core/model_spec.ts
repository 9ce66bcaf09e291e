/**
 * Parts of a model's description that several layers read: how an image becomes the network input
 * (kernels, image placement, converters) and the SSD anchor generator's options (ssd, graph, converters).
 */
export interface PreprocessSpec {
  width: number;
  height: number;
  /**
   * stretch: resize the whole image to width x height (aspect not kept).
   * pad-bottom-right: pad to a square with black at the bottom/right, then resize (face-api).
   * letterbox: pad to the model's aspect ratio, image centred.
   */
  resize: 'stretch' | 'pad-bottom-right' | 'letterbox';
  /** Bilinear sampling with half-pixel centres (TF half_pixel_centers=true) or corner-aligned (false, face-api). */
  halfPixelCenters: boolean;
  /** value = (pixel - mean) / std, pixel in 0..255. */
  mean: number;
  std: number;
}

export interface GridAnchorOptions {
  numLayers: number;
  minScale: number;
  maxScale: number;
  inputHeight: number;
  inputWidth: number;
  /** One per layer; consecutive layers with the same stride share one grid (MediaPipe). */
  strides: number[];
  /** [height, width] per layer; defaults to ceil(input / stride). */
  featureMapSizes?: [number, number][];
  aspectRatios: number[];
  anchorOffsetX: number;
  anchorOffsetY: number;
  /** Layer 0 gets three boxes only: (0.1, ratio 1), (scale, 2), (scale, 0.5). */
  reduceBoxesInLowestLayer: boolean;
  /** When > 0, each cell gets one more box of this ratio at sqrt(scale_i * scale_i+1). */
  interpolatedScaleAspectRatio: number;
  /**
   * Where that box goes in the cell: after all the ratios (MediaPipe and the current TF Object
   * Detection API; the default), or right after ratio 1 (the 2017 TF Object Detection API that
   * face-api's SSD-MobileNetV1 was trained with).
   */
  interpolatedPlacement?: 'last' | 'after-ratio-1';
  /** Every anchor is 1 x 1 (MediaPipe's fixed_anchor_size: BlazeFace regresses sizes against the input). */
  fixedAnchorSize?: boolean;
  /**
   * Per layer, the heights and widths of a cell's boxes, in place of the scale and ratio rules above
   * (anchors fitted to a dataset by `mobilessd train --anchors fit`), relative to inputHeight x inputWidth.
   */
  cellShapes?: { h: number[]; w: number[] }[];
}
