/** A labeled dataset split as training examples: image files with normalized boxes and class columns. */
import { readDataset } from '../eval/datasets/index.ts';
import type { Dataset } from '../eval/types.ts';
import { readImageFile } from '../image/decode.ts';
import type { LabeledImage } from './data.ts';
import type { GroundTruth } from './targets.ts';

export interface TrainingImage {
  id: string;
  file: string;
  truth: GroundTruth;
}

export interface TrainingSet {
  dataset: Dataset;
  images: TrainingImage[];
}

/**
 * Reads one split; `classes` fixes the class columns (1 = classes[0], ...). Difficult boxes are left
 * out, as VOC scoring ignores them; degenerate ones the reader already skipped with a warning.
 */
export async function readTrainingSet(
  path: string,
  split: string | undefined,
  classes: readonly string[],
): Promise<TrainingSet> {
  const dataset = await readDataset(path, split === undefined ? {} : { split });
  const images = dataset.images.map((im): TrainingImage => {
    const kept = im.boxes.filter((b) => !b.difficult && !b.iscrowd && classes.includes(b.className));
    const boxes = new Float32Array(4 * kept.length);
    kept.forEach((b, j) =>
      boxes.set([b.y / im.height, b.x / im.width, (b.y + b.height) / im.height, (b.x + b.width) / im.width], 4 * j),
    );
    return {
      id: im.id,
      file: im.file,
      truth: { boxes, classes: Int32Array.from(kept, (b) => classes.indexOf(b.className) + 1) },
    };
  });
  return { dataset, images };
}

export async function loadImage(t: TrainingImage): Promise<LabeledImage> {
  return { image: await readImageFile(t.file), truth: t.truth };
}
