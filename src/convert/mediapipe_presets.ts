/**
 * MediaPipe's options for its BlazeFace face detectors, as its face_detection module graphs set them
 * (mediapipe/modules/face_detection/face_detection.pbtxt, which face_detection_short_range.pbtxt and
 * face_detection_full_range.pbtxt parameterize): the same JSON a `<model>.ssd.json` sidecar holds
 * (docs/ssd_options.md shows the short-range one, and a test checks the two agree).
 */

/** MediaPipe's FaceKeyPoint order (mediapipe/python/solutions/face_detection.py), lower-cased. */
export const FACE_KEYPOINTS = [
  'right_eye',
  'left_eye',
  'nose_tip',
  'mouth_center',
  'right_ear_tragion',
  'left_ear_tragion',
];

/** The options both face graphs share; the two models differ in size, anchor layers and score threshold. */
function blazeface(size: number, anchors: object, numBoxes: number, minScore: number) {
  return {
    labels: ['face'],
    keypoint_names: FACE_KEYPOINTS,
    ImageToTensorCalculator: {
      output_tensor_width: size,
      output_tensor_height: size,
      keep_aspect_ratio: true,
      output_tensor_float_range: { min: -1, max: 1 },
      border_mode: 'BORDER_ZERO',
    },
    SsdAnchorsCalculator: {
      min_scale: 0.1484375,
      max_scale: 0.75,
      input_size_height: size,
      input_size_width: size,
      anchor_offset_x: 0.5,
      anchor_offset_y: 0.5,
      aspect_ratios: [1.0],
      fixed_anchor_size: true,
      ...anchors,
    },
    TensorsToDetectionsCalculator: {
      num_classes: 1,
      num_boxes: numBoxes,
      num_coords: 16,
      box_coord_offset: 0,
      keypoint_coord_offset: 4,
      num_keypoints: 6,
      num_values_per_keypoint: 2,
      sigmoid_score: true,
      score_clipping_thresh: 100,
      reverse_output_order: true,
      x_scale: size,
      y_scale: size,
      h_scale: size,
      w_scale: size,
      min_score_thresh: minScore,
    },
    NonMaxSuppressionCalculator: {
      min_suppression_threshold: 0.3,
      overlap_type: 'INTERSECTION_OVER_UNION',
      algorithm: 'WEIGHTED',
    },
  };
}

/** face_detection_short_range.tflite: 128x128, 896 anchors (16x16x2 + 8x8x6). */
export const BLAZEFACE_SHORT_RANGE = blazeface(
  128,
  { num_layers: 4, strides: [8, 16, 16, 16], interpolated_scale_aspect_ratio: 1.0 },
  896,
  0.5,
);

/** face_detection_full_range.tflite: 192x192, 2304 anchors (48x48x1). */
export const BLAZEFACE_FULL_RANGE = blazeface(
  192,
  { num_layers: 1, strides: [4], interpolated_scale_aspect_ratio: 0.0 },
  2304,
  0.6,
);
