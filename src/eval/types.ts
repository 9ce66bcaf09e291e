/** The dataset shape every reader produces and the metrics consume. */
import type { Box } from '../detect_types.ts';

export type DatasetFormat = 'voc' | 'coco' | 'yolo';

/** One annotated object, in the image's pixels (x, y = top-left corner). */
export interface GroundTruthBox extends Box {
  className: string;
  /** PASCAL VOC "difficult": matching it is scored neither as a hit nor as a miss. */
  difficult: boolean;
  /** COCO crowd region: detections that fall on it are ignored rather than counted as false positives. */
  iscrowd?: boolean;
  /** COCO's annotated area (the segmentation's pixel count); decides small/medium/large. Default width*height. */
  area?: number;
}

export interface DatasetImage {
  /** Key of the image's detections: the file stem (VOC, YOLO) or the COCO image id. */
  id: string;
  /** Absolute path of the image file. */
  file: string;
  width: number;
  height: number;
  boxes: GroundTruthBox[];
}

/** An annotation that was skipped (degenerate or outside its image); reading goes on. */
export interface DatasetWarning {
  file: string;
  reason: string;
  /** The whole file (or image entry) was malformed and left out, not just one box. */
  skippedFile?: boolean;
}

export interface Dataset {
  format: DatasetFormat;
  /** The path the dataset was read from. */
  source: string;
  images: DatasetImage[];
  /** Class names the annotations use, in the dataset's own order. */
  classes: string[];
  warnings: DatasetWarning[];
}
