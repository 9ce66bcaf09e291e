/**
 * YOLO txt layout: images/ and labels/ side by side (optionally one level deeper per split:
 * images/val, labels/val), one `class cx cy w h` line per box, normalized to the image size, class ids
 * indexing classes.txt or the `names` of a data.yaml. An image without a label file has no objects.
 * Image sizes come from the image headers.
 */
import { join, resolve } from 'node:path';
import { DatasetFormatError } from '../../errors.ts';
import type { Dataset, DatasetImage, DatasetWarning, GroundTruthBox } from '../types.ts';
import {
  IMAGE_EXTENSIONS,
  acceptBox,
  isDirectory,
  isFile,
  listFiles,
  parseNumber,
  readImageSize,
  readTextFile,
  stem,
  skipMalformed,
} from './common.ts';

export interface YoloOptions {
  /** Read images/<split> and labels/<split>. */
  split?: string;
  /** Stop at the first malformed label file instead of skipping its image with a warning. */
  strict?: boolean;
}

export async function readYolo(root: string, options: YoloOptions = {}): Promise<Dataset> {
  const base = resolve(root);
  const classes = await readClassNames(base);
  const imagesDir = options.split === undefined ? join(base, 'images') : join(base, 'images', options.split);
  const labelsDir = options.split === undefined ? join(base, 'labels') : join(base, 'labels', options.split);
  if (!(await isDirectory(imagesDir)))
    throw new DatasetFormatError(imagesDir, 'missing: a YOLO dataset keeps its images in images/');
  const names = await listFiles(imagesDir, IMAGE_EXTENSIONS);
  if (!names.length)
    throw new DatasetFormatError(imagesDir, 'no .jpg/.jpeg/.png images here (for per-split folders pass the split)');
  const warnings: DatasetWarning[] = [];
  const images: DatasetImage[] = [];
  const ids = new Set<string>();
  for (const name of names) {
    const file = join(imagesDir, name);
    if (ids.has(stem(name)))
      throw new DatasetFormatError(
        file,
        `another image is also named ${stem(name)}; image ids (file stems) must be unique`,
      );
    ids.add(stem(name));
    try {
      const { width, height } = await readImageSize(file);
      const labelFile = join(labelsDir, `${stem(name)}.txt`);
      const boxes = (await isFile(labelFile))
        ? parseLabels(await readTextFile(labelFile, 'the label file'), labelFile, classes, width, height, warnings)
        : [];
      images.push({ id: stem(name), file, width, height, boxes });
    } catch (e) {
      skipMalformed(e, options.strict, warnings);
    }
  }
  return { format: 'yolo', source: base, images, classes, warnings };
}

function parseLabels(
  text: string,
  file: string,
  classes: readonly string[],
  width: number,
  height: number,
  warnings: DatasetWarning[],
): GroundTruthBox[] {
  const boxes: GroundTruthBox[] = [];
  text.split(/\r?\n/).forEach((line, k) => {
    const fields = line.trim().split(/\s+/).filter(Boolean);
    if (!fields.length) return;
    const where = `line ${k + 1}`;
    if (fields.length !== 5)
      throw new DatasetFormatError(file, `${where}: expected "class cx cy w h", got "${line.trim()}"`);
    const id = parseNumber(fields[0], file, `${where} class id`);
    if (!Number.isInteger(id) || id < 0 || id >= classes.length)
      throw new DatasetFormatError(file, `${where}: class id ${fields[0]} is not one of the ${classes.length} classes`);
    const [cx, cy, w, h] = fields.slice(1).map((f, j) => parseNumber(f, file, `${where} field ${j + 2}`)) as [
      number,
      number,
      number,
      number,
    ];
    const box: GroundTruthBox = {
      className: classes[id]!,
      x: (cx - w / 2) * width,
      y: (cy - h / 2) * height,
      width: w * width,
      height: h * height,
      difficult: false,
    };
    if (acceptBox(box, width, height, `${file} (${where})`, warnings)) boxes.push(box);
  });
  return boxes;
}

async function readClassNames(base: string): Promise<string[]> {
  const txt = join(base, 'classes.txt');
  if (await isFile(txt)) {
    const lines = (await readTextFile(txt, 'the class names')).split(/\r?\n/).map((l) => l.trim());
    while (lines.length && !lines[lines.length - 1]) lines.pop();
    if (!lines.length) throw new DatasetFormatError(txt, 'no class names');
    return lines;
  }
  for (const name of ['data.yaml', 'dataset.yaml']) {
    const yaml = join(base, name);
    if (await isFile(yaml)) return yamlNames(await readTextFile(yaml, 'the dataset description'), yaml);
  }
  throw new DatasetFormatError(
    txt,
    'missing: a YOLO dataset names its classes in classes.txt (one a line) or data.yaml',
  );
}

/**
 * The `names` of a data.yaml in its three common spellings: a flow list (`names: [a, b]`), a block
 * list (`- a`) or an index map (`0: a`). Anything fancier asks for a classes.txt.
 */
export function yamlNames(text: string, file: string): string[] {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((l) => /^names\s*:/.test(l));
  if (at < 0) throw new DatasetFormatError(file, 'no top-level "names:" entry');
  const inline = stripComment(lines[at]!.replace(/^names\s*:/, '')).trim();
  if (inline.startsWith('[')) {
    let flow = inline;
    for (let k = at + 1; !flow.includes(']') && k < lines.length; k++) flow += ' ' + stripComment(lines[k]!).trim();
    const end = flow.indexOf(']');
    if (end < 0) throw new DatasetFormatError(file, 'unterminated "names: [" list');
    return splitFlow(flow.slice(1, end)).map(unquote);
  }
  if (inline) throw new DatasetFormatError(file, 'unsupported "names:" value; write a list or a classes.txt');
  const names: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    if (!/^\s/.test(line)) break;
    const item = stripComment(line).trim();
    const list = /^-\s*(.*)$/.exec(item);
    const indexed = /^(\d+)\s*:\s*(.*)$/.exec(item);
    if (list) names.push(unquote(list[1]!));
    else if (indexed && Number(indexed[1]) === names.length) names.push(unquote(indexed[2]!));
    else
      throw new DatasetFormatError(
        file,
        `unsupported "names:" entry "${item}" (expected "- name" or "${names.length}: name")`,
      );
  }
  if (!names.length) throw new DatasetFormatError(file, '"names:" is empty');
  return names;
}

function splitFlow(body: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote = '';
  for (const ch of body) {
    if (quote) {
      current += ch;
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === ',') {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** Drops a " #" comment that is not inside quotes. */
function stripComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

function unquote(v: string): string {
  const t = v.trim();
  return (t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")) ? t.slice(1, -1) : t;
}
