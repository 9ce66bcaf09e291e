/**
 * COCO instances JSON: `images` (id, file_name, width, height), `annotations` (image_id, category_id,
 * bbox [x, y, w, h], iscrowd, area) and `categories` (id, name).
 */
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { DatasetFormatError } from '../../errors.ts';
import type { Dataset, DatasetImage, DatasetWarning, GroundTruthBox } from '../types.ts';
import { acceptBox, isDirectory, isFile, readImageSize, readTextFile, skipMalformed } from './common.ts';

export interface CocoOptions {
  /** Where the images are. Default: beside the JSON, in images/ beside it, or in ../images or ../<split> (val2017/). */
  imagesDir?: string;
  /** Stop at an image entry whose file_name leaves the images folder instead of skipping it with a warning. */
  strict?: boolean;
}

interface CocoImage {
  id: number | string;
  file_name: string;
  width?: number;
  height?: number;
}

export async function readCoco(jsonFile: string, options: CocoOptions = {}): Promise<Dataset> {
  const file = resolve(jsonFile);
  let json: unknown;
  try {
    json = JSON.parse(await readTextFile(file, 'the COCO annotations'));
  } catch (e) {
    if (e instanceof DatasetFormatError) throw e;
    throw new DatasetFormatError(file, `not valid JSON: ${(e as Error).message}`);
  }
  const doc = record(json, file, 'the document');
  const categories = arrayField(doc, 'categories', file).map((c, k) => record(c, file, `categories[${k}]`));
  const names = new Map<string, string>();
  for (const [k, c] of categories.entries()) {
    if (typeof c.name !== 'string' || (typeof c.id !== 'number' && typeof c.id !== 'string'))
      throw new DatasetFormatError(file, `categories[${k}] needs an id and a name`);
    names.set(String(c.id), c.name);
  }
  const cocoImages = arrayField(doc, 'images', file).map((im, k) => checkImage(im, file, k));
  const dir =
    options.imagesDir !== undefined ? resolve(options.imagesDir) : await findImagesDir(file, cocoImages[0]?.file_name);
  const warnings: DatasetWarning[] = [];
  const images = new Map<string, DatasetImage>();
  for (const im of cocoImages) {
    const id = String(im.id);
    if (images.has(id)) throw new DatasetFormatError(file, `image id ${id} appears twice`);
    const imageFile = join(dir, im.file_name);
    // file_name comes from the JSON: '../../etc/passwd' or an absolute path must not be opened.
    if (isAbsolute(im.file_name) || relative(dir, imageFile).split(sep)[0] === '..') {
      skipMalformed(
        new DatasetFormatError(file, `image id ${id}: file_name ${JSON.stringify(im.file_name)} leaves ${dir}`),
        options.strict,
        warnings,
      );
      continue;
    }
    if (!(await isFile(imageFile)))
      throw new DatasetFormatError(imageFile, `image listed in ${file} (id ${id}) does not exist`);
    const size = im.width && im.height ? { width: im.width, height: im.height } : await readImageSize(imageFile);
    images.set(id, { id, file: imageFile, width: size.width, height: size.height, boxes: [] });
  }
  const annotations = doc.annotations === undefined ? [] : arrayField(doc, 'annotations', file);
  for (const [k, raw] of annotations.entries()) {
    const a = record(raw, file, `annotations[${k}]`);
    const what = `annotation ${a.id ?? `#${k}`}`;
    const image = images.get(String(a.image_id));
    const className = names.get(String(a.category_id));
    if (!image) {
      warnings.push({ file, reason: `skipped ${what}: unknown image_id ${a.image_id}` });
      continue;
    }
    if (className === undefined) {
      warnings.push({ file, reason: `skipped ${what}: unknown category_id ${a.category_id}` });
      continue;
    }
    const bbox = a.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new DatasetFormatError(
        file,
        `${what}: bbox must be [x, y, width, height] numbers, got ${JSON.stringify(bbox)}`,
      );
    }
    const [x, y, width, height] = bbox as [number, number, number, number];
    const box: GroundTruthBox = { className, x, y, width, height, difficult: false };
    if (a.iscrowd === 1 || a.iscrowd === true) box.iscrowd = true;
    if (typeof a.area === 'number' && Number.isFinite(a.area)) box.area = a.area;
    if (acceptBox(box, image.width, image.height, `${file} (${what})`, warnings)) image.boxes.push(box);
  }
  return { format: 'coco', source: file, images: [...images.values()], classes: [...names.values()], warnings };
}

function checkImage(raw: unknown, file: string, k: number): CocoImage {
  const im = record(raw, file, `images[${k}]`);
  if ((typeof im.id !== 'number' && typeof im.id !== 'string') || typeof im.file_name !== 'string') {
    throw new DatasetFormatError(file, `images[${k}] needs an id and a file_name`);
  }
  const dim = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined);
  return { id: im.id, file_name: im.file_name, width: dim(im.width), height: dim(im.height) };
}

async function findImagesDir(jsonFile: string, firstImage: string | undefined): Promise<string> {
  const here = dirname(jsonFile);
  const split = basename(jsonFile)
    .replace(/\.json$/i, '')
    .replace(/^instances_/, '');
  const candidates = [
    here,
    join(here, 'images'),
    join(here, '..', 'images'),
    join(here, '..', split),
    join(here, '..', 'images', split),
  ];
  if (firstImage === undefined) return here;
  for (const dir of candidates)
    if ((await isDirectory(dir)) && (await isFile(join(dir, firstImage)))) return resolve(dir);
  throw new DatasetFormatError(
    jsonFile,
    `cannot find image ${firstImage} (looked in ${candidates.map((c) => resolve(c)).join(', ')}); pass the images directory`,
  );
}

function record(v: unknown, file: string, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new DatasetFormatError(file, `${what} must be an object`);
  return v as Record<string, unknown>;
}

function arrayField(doc: Record<string, unknown>, name: string, file: string): unknown[] {
  const v = doc[name];
  if (!Array.isArray(v)) throw new DatasetFormatError(file, `"${name}" must be an array`);
  return v;
}
