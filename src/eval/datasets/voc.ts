/**
 * PASCAL VOC layout: Annotations/<id>.xml, JPEGImages/, and optionally ImageSets/Main/<split>.txt.
 * Box corners are taken as written (xmin, ymin, xmax, ymax), without the devkit's 1-based shift, the
 * convention of review_object_detection_metrics and of VOC-to-COCO converters.
 */
import { join, resolve } from 'node:path';
import { DatasetFormatError } from '../../errors.ts';
import type { Dataset, DatasetImage, DatasetWarning, GroundTruthBox } from '../types.ts';
import {
  acceptBox,
  skipMalformed,
  isDirectory,
  isFile,
  listFiles,
  parseNumber,
  readImageSize,
  readTextFile,
  stem,
} from './common.ts';
import { child, childrenNamed, childText, parseXml, type XmlElement } from './xml.ts';

export interface VocOptions {
  /** Read only the ids listed in ImageSets/Main/<split>.txt (e.g. "val", "test"). */
  split?: string;
  /** Stop at the first malformed annotation file instead of skipping it with a warning. */
  strict?: boolean;
}

export async function readVoc(root: string, options: VocOptions = {}): Promise<Dataset> {
  const base = resolve(root);
  const annotations = join(base, 'Annotations');
  if (!(await isDirectory(annotations)))
    throw new DatasetFormatError(annotations, 'missing: a VOC dataset keeps its XML files in Annotations/');
  const ids =
    options.split === undefined
      ? (await listFiles(annotations, ['.xml'])).map(stem)
      : await readSplit(base, options.split);
  const warnings: DatasetWarning[] = [];
  const classes = new Set<string>();
  const images: DatasetImage[] = [];
  for (const id of ids) {
    try {
      const image = await readAnnotation(base, id, warnings);
      for (const b of image.boxes) classes.add(b.className);
      images.push(image);
    } catch (e) {
      skipMalformed(e, options.strict, warnings);
    }
  }
  return { format: 'voc', source: base, images, classes: [...classes].sort(), warnings };
}

async function readSplit(base: string, split: string): Promise<string[]> {
  const file = join(base, 'ImageSets', 'Main', `${split}.txt`);
  // Class-specific split files have a second column (1 / -1 / 0); the id is always the first token.
  const ids = (await readTextFile(file, 'the split list'))
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/)[0]!)
    .filter(Boolean);
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new DatasetFormatError(file, `image id "${id}" is listed twice`);
    seen.add(id);
  }
  return ids;
}

async function readAnnotation(base: string, id: string, warnings: DatasetWarning[]): Promise<DatasetImage> {
  const file = join(base, 'Annotations', `${id}.xml`);
  const root = parseXml(await readTextFile(file, 'the annotation'), file);
  if (root.name !== 'annotation')
    throw new DatasetFormatError(file, `root element is <${root.name}>, expected <annotation>`);
  const imageFile = await findImage(base, id, childText(root, 'filename'), file);
  let { width, height } = declaredSize(root, file);
  // Some exporters write <size> as 0x0 or leave it out; the image header is the truth then.
  if (!(width > 0 && height > 0)) ({ width, height } = await readImageSize(imageFile));
  const boxes: GroundTruthBox[] = [];
  childrenNamed(root, 'object').forEach((object, k) => {
    const what = `object ${k + 1}`;
    const className = childText(object, 'name');
    if (!className) throw new DatasetFormatError(file, `${what} has no <name>`);
    const bndbox = child(object, 'bndbox');
    if (!bndbox) throw new DatasetFormatError(file, `${what} ("${className}") has no <bndbox>`);
    const [xmin, ymin, xmax, ymax] = (['xmin', 'ymin', 'xmax', 'ymax'] as const).map((c) =>
      parseNumber(childText(bndbox, c), file, `${what} ${c}`),
    ) as [number, number, number, number];
    const difficult = Number(childText(object, 'difficult') ?? 0) > 0;
    const box: GroundTruthBox = { className, x: xmin, y: ymin, width: xmax - xmin, height: ymax - ymin, difficult };
    if (acceptBox(box, width, height, file, warnings)) boxes.push(box);
  });
  return { id, file: imageFile, width, height, boxes };
}

function declaredSize(root: XmlElement, file: string): { width: number; height: number } {
  const size = child(root, 'size');
  if (!size) return { width: 0, height: 0 };
  const read = (name: string) =>
    childText(size, name) ? parseNumber(childText(size, name), file, `<size><${name}>`) : 0;
  return { width: read('width'), height: read('height') };
}

async function findImage(base: string, id: string, filename: string | undefined, annotation: string): Promise<string> {
  const dir = join(base, 'JPEGImages');
  const candidates = [
    ...(filename ? [filename] : []),
    ...['.jpg', '.jpeg', '.png', '.JPG', '.JPEG', '.PNG'].map((x) => id + x),
  ];
  for (const name of candidates) if (await isFile(join(dir, name))) return join(dir, name);
  throw new DatasetFormatError(annotation, `image not found in ${dir} (tried ${candidates.join(', ')})`);
}
