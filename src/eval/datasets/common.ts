/** File access and box checks shared by the dataset readers; every failure names the file at fault. */
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { DatasetFormatError, MobileSsdError } from '../../errors.ts';
import { imageSize, isImageSizeProblem } from '../image_size.ts';
import type { DatasetWarning, GroundTruthBox } from '../types.ts';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

export async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

export async function readTextFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new DatasetFormatError(file, `cannot read ${what}: ${(e as Error).message}`);
  }
}

/**
 * A malformed annotation file (or image entry) is left out with a warning, so one bad file does not cost the
 * whole evaluation; with `strict` (or for errors that are not about the data) it stops the run.
 */
export function skipMalformed(e: unknown, strict: boolean | undefined, warnings: DatasetWarning[]): void {
  if (strict || !(e instanceof MobileSsdError)) throw e;
  const message = e.message.split('\n')[0]!;
  const file = e instanceof DatasetFormatError ? message.slice(0, message.indexOf(': ')) : '';
  warnings.push({
    file: file || message,
    reason: `skipped (${file ? message.slice(file.length + 2) : message}); --strict stops instead`,
    skippedFile: true,
  });
}

/** Names of the directory's files whose extension is one of `extensions` (case-insensitive), sorted. */
export async function listFiles(dir: string, extensions: readonly string[]): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new DatasetFormatError(dir, `cannot list the directory: ${(e as Error).message}`);
  }
  return entries
    .filter((e) => e.isFile() && extensions.some((x) => e.name.toLowerCase().endsWith(x)))
    .map((e) => e.name)
    .sort();
}

/** File name without its last extension. */
export function stem(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

// Enough for the SOF marker behind typical EXIF and ICC segments; larger headers fall back to a full read.
const HEADER_BYTES = 256 * 1024;

export async function readImageSize(file: string): Promise<{ width: number; height: number }> {
  let head: Uint8Array;
  let fileSize: number;
  try {
    const handle = await open(file, 'r');
    try {
      fileSize = (await handle.stat()).size;
      head = new Uint8Array(Math.min(HEADER_BYTES, fileSize));
      await handle.read(head, 0, head.length, 0);
    } finally {
      await handle.close();
    }
  } catch (e) {
    throw new DatasetFormatError(file, `cannot read the image: ${(e as Error).message}`);
  }
  let size = imageSize(head);
  if (isImageSizeProblem(size) && size.truncated && head.length < fileSize) size = imageSize(await readFile(file));
  if (isImageSizeProblem(size)) throw new DatasetFormatError(file, `cannot read the image size: ${size.problem}`);
  return size;
}

export function parseNumber(text: string | undefined, file: string, what: string): number {
  const value = text === undefined || text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value))
    throw new DatasetFormatError(file, `${what} is ${text === undefined ? 'missing' : `not a number: "${text}"`}`);
  return value;
}

/**
 * Keeps a box only if it has positive size and overlaps its image; otherwise records why in `warnings`.
 * A box that merely overhangs the border is kept as annotated.
 */
export function acceptBox(
  box: GroundTruthBox,
  imageWidth: number,
  imageHeight: number,
  file: string,
  warnings: DatasetWarning[],
): boolean {
  const corners = `[${fmt(box.x)}, ${fmt(box.y)}, ${fmt(box.x + box.width)}, ${fmt(box.y + box.height)}]`;
  if (!(box.width > 0) || !(box.height > 0)) {
    warnings.push({
      file,
      reason: `skipped degenerate "${box.className}" box ${corners} (xmin,ymin,xmax,ymax): zero or negative size`,
    });
    return false;
  }
  if (box.x >= imageWidth || box.y >= imageHeight || box.x + box.width <= 0 || box.y + box.height <= 0) {
    warnings.push({
      file,
      reason: `skipped "${box.className}" box ${corners} (xmin,ymin,xmax,ymax): outside the ${imageWidth}x${imageHeight} image`,
    });
    return false;
  }
  return true;
}

function fmt(v: number): string {
  return String(Math.round(v * 100) / 100);
}
