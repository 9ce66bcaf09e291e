/** Reads a labeled dataset in any supported format, telling the format from the path when not given. */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DatasetFormatError } from '../../errors.ts';
import type { Dataset, DatasetFormat } from '../types.ts';
import { readCoco } from './coco.ts';
import { isDirectory, isFile } from './common.ts';
import { readVoc } from './voc.ts';
import { readYolo } from './yolo.ts';

export { readCoco, type CocoOptions } from './coco.ts';
export { readVoc, type VocOptions } from './voc.ts';
export { readYolo, type YoloOptions } from './yolo.ts';

export interface ReadDatasetOptions {
  /** Skip detection and read the path as this format. */
  format?: DatasetFormat;
  /** VOC: ImageSets/Main/<split>.txt; YOLO: images/<split> and labels/<split>. */
  split?: string;
  /** COCO: the directory holding the images. */
  imagesDir?: string;
  /** Stop at the first malformed annotation file or entry instead of skipping it with a warning. */
  strict?: boolean;
}

export interface DetectedFormat {
  format: DatasetFormat;
  /** The dataset root (VOC, YOLO) or the instances JSON file (COCO). */
  path: string;
}

/**
 * A .json file is COCO; a directory with Annotations/ is VOC; one with images/ and labels/ (or
 * classes.txt / data.yaml) is YOLO; one with a single instances JSON (beside it or in annotations/)
 * is COCO. A data.yaml or classes.txt path stands for its directory.
 */
export async function detectDatasetFormat(path: string): Promise<DetectedFormat> {
  const p = resolve(path);
  const info = await stat(p).catch(() => undefined);
  if (!info) throw new DatasetFormatError(p, 'not found');
  if (info.isFile()) {
    if (/\.json$/i.test(p)) return { format: 'coco', path: p };
    if (/^(data|dataset)\.yaml$|^classes\.txt$/i.test(basename(p))) return { format: 'yolo', path: dirname(p) };
    throw new DatasetFormatError(
      p,
      'cannot tell the dataset format from this file: pass a COCO .json, or a VOC or YOLO folder',
    );
  }
  if (await isDirectory(join(p, 'Annotations'))) return { format: 'voc', path: p };
  const yoloNames =
    (await isFile(join(p, 'classes.txt'))) ||
    (await isFile(join(p, 'data.yaml'))) ||
    (await isFile(join(p, 'dataset.yaml')));
  if ((await isDirectory(join(p, 'images'))) && ((await isDirectory(join(p, 'labels'))) || yoloNames))
    return { format: 'yolo', path: p };
  const json = [...(await jsonFiles(p)), ...(await jsonFiles(join(p, 'annotations')))];
  const instances = json.filter((f) => /^instances.*\.json$/i.test(basename(f)));
  const coco = instances.length ? instances : json;
  if (coco.length === 1) return { format: 'coco', path: coco[0]! };
  if (coco.length > 1)
    throw new DatasetFormatError(
      p,
      `several COCO JSON files here (${coco.map((f) => basename(f)).join(', ')}): pass the one to use`,
    );
  throw new DatasetFormatError(
    p,
    'cannot tell the dataset format: expected Annotations/ (VOC), images/ + labels/ + classes.txt (YOLO) or a COCO instances .json',
  );
}

export async function readDataset(path: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  const { format, path: target } = options.format
    ? { format: options.format, path: resolve(path) }
    : await detectDatasetFormat(path);
  switch (format) {
    case 'voc':
      return readVoc(target, { split: options.split, strict: options.strict });
    case 'yolo':
      return readYolo(target, { split: options.split, strict: options.strict });
    case 'coco':
      return readCoco(target, { imagesDir: options.imagesDir, strict: options.strict });
  }
}

async function jsonFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && /\.json$/i.test(e.name)).map((e) => join(dir, e.name));
}
