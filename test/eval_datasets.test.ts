import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { DatasetFormatError } from '../src/errors.ts';
import { readImageSize } from '../src/eval/datasets/common.ts';
import { detectDatasetFormat, readCoco, readDataset, readVoc, readYolo } from '../src/eval/datasets/index.ts';
import { childText, parseXml } from '../src/eval/datasets/xml.ts';
import { yamlNames } from '../src/eval/datasets/yolo.ts';
import { imageSize } from '../src/eval/image_size.ts';
import type { Dataset } from '../src/eval/types.ts';
import { sharedPath } from '../scripts/shared_data.ts';

const datasets = sharedPath(process.env.MOBILESSD_ROOT ?? process.cwd(), 'datasets');
const scratch = mkdtempSync(join(tmpdir(), 'mobilessd-eval-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let dirCount = 0;
/** Writes files (path -> text or bytes) under a fresh scratch directory and returns it. */
function tree(files: Record<string, string | Uint8Array>): string {
  const root = join(scratch, `t${dirCount++}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  mkdirSync(root, { recursive: true });
  return root;
}

const be16 = (v: number) => [v >> 8, v & 0xff];
/** A JPEG header that names a size but holds no image data: enough for a reader that never decodes. */
function jpegHeader(width: number, height: number, { sof = 0xc0, before = [] as number[][] } = {}): Uint8Array {
  const app0 = [0xff, 0xe0, ...be16(16), 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const frame = [0xff, sof, ...be16(17), 8, ...be16(height), ...be16(width), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return new Uint8Array([0xff, 0xd8, ...app0, ...before.flat(), ...frame, 0xff, 0xd9]);
}
const segment = (marker: number, payload: number) => [
  0xff,
  marker,
  ...be16(payload + 2),
  ...new Array<number>(payload).fill(0x20),
];

function boxCount(d: Dataset): number {
  return d.images.reduce((n, im) => n + im.boxes.length, 0);
}
function perClass(d: Dataset): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const im of d.images) for (const b of im.boxes) counts[b.className] = (counts[b.className] ?? 0) + 1;
  return counts;
}

test('imageSize: PNG IHDR and JPEG SOFn, bounds-checked', () => {
  const png = new Uint8Array([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0x01, 0x2c, 0, 0, 0,
    0xc8, 8, 6, 0, 0, 0,
  ]);
  assert.deepEqual(imageSize(png), { width: 300, height: 200, format: 'png' });
  assert.deepEqual(imageSize(png.subarray(0, 20)), { problem: 'PNG ends before its IHDR chunk', truncated: true });
  assert.deepEqual(imageSize(jpegHeader(640, 480)), { width: 640, height: 480, format: 'jpeg' });
  assert.deepEqual(
    imageSize(jpegHeader(17, 9, { sof: 0xc2 })),
    { width: 17, height: 9, format: 'jpeg' },
    'progressive',
  );
  // DHT (C4) and DAC (CC) sit in the SOF range but are not frame headers.
  assert.deepEqual(
    imageSize(jpegHeader(5, 7, { before: [segment(0xc4, 30), segment(0xcc, 4), segment(0xe1, 60000)] })),
    { width: 5, height: 7, format: 'jpeg' },
  );
  const full = jpegHeader(640, 480, { before: [segment(0xe1, 1000)] });
  for (const cut of [3, 25, 600, full.length - 14])
    assert.equal((imageSize(full.subarray(0, cut)) as { truncated: boolean }).truncated, true, `cut at ${cut}`);
  assert.deepEqual(imageSize(new TextEncoder().encode('<annotation></annotation>')), {
    problem: 'not a PNG or JPEG file',
    truncated: false,
  });
  assert.equal((imageSize(jpegHeader(0, 480)) as { truncated: boolean }).truncated, false);
  assert.match((imageSize(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 2])) as { problem: string }).problem, /scan data/);
  assert.match((imageSize(new Uint8Array([0xff, 0xd8, 0x00, 0x00])) as { problem: string }).problem, /marker expected/);
  assert.match((imageSize(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 1])) as { problem: string }).problem, /length 1/);
});

test('readImageSize reads past a 256 KiB header and agrees with the VOC <size> of all 100 voc2012-100 images', async () => {
  const big = jpegHeader(123, 45, { before: Array.from({ length: 5 }, () => segment(0xe2, 65000)) });
  const dir = tree({ 'big.jpg': big, 'bad.jpg': 'not an image' });
  assert.deepEqual(await readImageSize(join(dir, 'big.jpg')), { width: 123, height: 45, format: 'jpeg' });
  await assert.rejects(
    readImageSize(join(dir, 'bad.jpg')),
    (e) => e instanceof DatasetFormatError && e.message.includes(join(dir, 'bad.jpg')),
  );
  await assert.rejects(
    readImageSize(join(dir, 'missing.jpg')),
    (e) => e instanceof DatasetFormatError && e.message.includes('missing.jpg'),
  );
  const voc = await readVoc(join(datasets, 'voc2012-100'));
  for (const im of voc.images) {
    const size = await readImageSize(im.file);
    assert.deepEqual([size.width, size.height], [im.width, im.height], im.file);
  }
});

test('parseXml: declaration, comments, DOCTYPE, attributes, entities, CDATA, self-closing tags, BOM, CRLF', () => {
  const xml =
    '\ufeff<?xml version="1.0" encoding="utf-8"?>\r\n<!DOCTYPE annotation [<!ENTITY x "y">]>\r\n<!-- labelImg -->\r\n' +
    '<annotation verified=\'yes\' tool="a &amp; b"><filename>a&lt;1&gt;&#65;&#x42;.jpg</filename><occluded/>' +
    '<name><![CDATA[R&D <cell>]]></name><!-- <object> --></annotation>\r\n';
  const root = parseXml(xml, 'a.xml');
  assert.equal(root.name, 'annotation');
  assert.deepEqual(root.attributes, { verified: 'yes', tool: 'a & b' });
  assert.equal(childText(root, 'FILENAME'), 'a<1>AB.jpg');
  assert.equal(childText(root, 'occluded'), '');
  assert.equal(childText(root, 'name'), 'R&D <cell>');
  assert.equal(root.children.length, 3);
  for (const [bad, problem] of [
    ['<a><b></a>', /line 1: closing tag <\/a> does not match <b>/],
    ['<a>\n<b>\n', /line 3: <b> is never closed/],
    ['<a></a><b></b>', /second root/],
    ['<a x=></a>', /malformed attribute/],
    ['', /no root element/],
    ['<a><!-- open', /missing "-->"/],
  ] as const) {
    assert.throws(
      () => parseXml(bad, '/data/x.xml'),
      (e) =>
        e instanceof DatasetFormatError && e.message.startsWith('/data/x.xml: invalid XML') && problem.test(e.message),
      bad,
    );
  }
});

test('coco128-val (YOLO): 128 images, 898 boxes, 80 classes, README class counts', async () => {
  const d = await readDataset(join(datasets, 'coco128-val'));
  assert.equal(d.format, 'yolo');
  assert.equal(d.images.length, 128);
  assert.equal(boxCount(d), 898);
  assert.equal(d.classes.length, 80);
  assert.deepEqual(d.warnings, []);
  const counts = perClass(d);
  assert.deepEqual([counts.person, counts.cup, counts.chair, counts.car], [350, 30, 28, 24]);
  const first = d.images[0]!;
  assert.deepEqual([first.id, first.width, first.height], ['000000000139', 640, 426]);
  assert.equal(first.file, join(datasets, 'coco128-val/images/000000000139.jpg'));
  // Label line "58 0.389578 0.416103 0.0385937 0.163146" (potted plant) in pixels of the 640x426 image.
  const plant = first.boxes[0]!;
  assert.equal(plant.className, 'potted plant');
  for (const [got, want] of [
    [plant.x, (0.389578 - 0.0385937 / 2) * 640],
    [plant.y, (0.416103 - 0.163146 / 2) * 426],
    [plant.width, 0.0385937 * 640],
    [plant.height, 0.163146 * 426],
  ]) {
    assert.ok(Math.abs(got! - want!) < 1e-9);
  }
});

test('voc2012-100 (VOC): 100 images, 273 boxes, 20 classes, difficult flags', async () => {
  const d = await readDataset(join(datasets, 'voc2012-100'));
  assert.equal(d.format, 'voc');
  assert.equal(d.images.length, 100);
  assert.equal(boxCount(d), 273);
  assert.equal(d.classes.length, 20);
  assert.equal(perClass(d).person, 91);
  assert.equal(d.images.flatMap((im) => im.boxes).filter((b) => b.difficult).length, 38);
  const first = d.images[0]!;
  assert.deepEqual([first.id, first.width, first.height], ['2007_000027', 486, 500]);
  assert.deepEqual(first.boxes, [{ className: 'person', x: 174, y: 101, width: 175, height: 250, difficult: false }]);
});

test('bccd (VOC): 364 images, 4888 objects of which 2 degenerate are reported and skipped; splits 205/87/72', async () => {
  const root = join(datasets, 'bccd');
  const d = await readDataset(root);
  assert.equal(d.images.length, 364);
  assert.equal(boxCount(d), 4886);
  assert.deepEqual(perClass(d), { RBC: 4153, WBC: 372, Platelets: 361 });
  assert.deepEqual(d.classes, ['Platelets', 'RBC', 'WBC']);
  assert.deepEqual(
    d.warnings.map((w) => w.file),
    [join(root, 'Annotations/BloodImage_00338.xml'), join(root, 'Annotations/BloodImage_00343.xml')],
  );
  assert.match(d.warnings[0]!.reason, /degenerate "RBC" box \[504, 337, 504, 337\]/);
  const sizes: Record<string, number> = {};
  let boxes = 0;
  for (const split of ['train', 'val', 'test']) {
    const s = await readDataset(root, { split });
    sizes[split] = s.images.length;
    boxes += boxCount(s);
  }
  assert.deepEqual(sizes, { train: 205, val: 87, test: 72 });
  assert.equal(boxes, 4886, 'the three splits partition the dataset');
  assert.equal((await readVoc(root, { split: 'trainval' })).images.length, 292);
});

test('format detection from a path', async () => {
  assert.deepEqual(await detectDatasetFormat(join(datasets, 'bccd')), { format: 'voc', path: join(datasets, 'bccd') });
  assert.deepEqual(await detectDatasetFormat(join(datasets, 'coco128-val')), {
    format: 'yolo',
    path: join(datasets, 'coco128-val'),
  });
  assert.deepEqual(await detectDatasetFormat(join(datasets, 'coco128-val/classes.txt')), {
    format: 'yolo',
    path: join(datasets, 'coco128-val'),
  });
  const coco = tree({ 'annotations/instances_val.json': '{}', 'annotations/captions_val.json': '{}' });
  assert.deepEqual(await detectDatasetFormat(coco), {
    format: 'coco',
    path: join(coco, 'annotations/instances_val.json'),
  });
  assert.deepEqual(await detectDatasetFormat(join(coco, 'annotations/captions_val.json')), {
    format: 'coco',
    path: join(coco, 'annotations/captions_val.json'),
  });
  const empty = tree({ 'readme.txt': 'hi' });
  await assert.rejects(
    detectDatasetFormat(empty),
    (e) => e instanceof DatasetFormatError && /cannot tell the dataset format/.test(e.message),
  );
  await assert.rejects(
    detectDatasetFormat(join(empty, 'nope')),
    (e) => e instanceof DatasetFormatError && e.message.includes('nope: not found'),
  );
  await assert.rejects(detectDatasetFormat(join(empty, 'readme.txt')), DatasetFormatError);
});

const vocXml = (objects: string, size = '<size><width>100</width><height>50</height><depth>3</depth></size>') =>
  `<annotation><filename>a.jpg</filename>${size}${objects}</annotation>`;
const vocObject = (name: string, [xmin, ymin, xmax, ymax]: (number | string)[], difficult = 0) =>
  `<object><name>${name}</name><difficult>${difficult}</difficult><bndbox><xmin>${xmin}</xmin><ymin>${ymin}</ymin><xmax>${xmax}</xmax><ymax>${ymax}</ymax></bndbox></object>`;

test('VOC reader: warnings for degenerate and outside boxes, header size fallback, errors name the file', async () => {
  const ok = tree({
    'Annotations/a.xml': vocXml(
      vocObject('cat', [10, 5, 30, 25]) + vocObject('cat', [40, 5, 40, 20]) + vocObject('dog', [150, 5, 170, 20], 1),
      '<size><width>0</width><height>0</height></size>',
    ),
    'JPEGImages/a.jpg': jpegHeader(100, 50),
  });
  const d = await readVoc(ok);
  assert.deepEqual([d.images[0]!.width, d.images[0]!.height], [100, 50], 'a 0x0 <size> falls back to the image header');
  assert.deepEqual(d.images[0]!.boxes, [{ className: 'cat', x: 10, y: 5, width: 20, height: 20, difficult: false }]);
  assert.deepEqual(
    d.warnings.map((w) => w.reason.replace(/ box .*:/, ':')),
    ['skipped degenerate "cat": zero or negative size', 'skipped "dog": outside the 100x50 image'],
  );
  assert.deepEqual(d.classes, ['cat']);

  const noImage = tree({ 'Annotations/a.xml': vocXml(''), 'JPEGImages/b.jpg': jpegHeader(1, 1) });
  await assert.rejects(
    readVoc(noImage, { strict: true }),
    (e) =>
      e instanceof DatasetFormatError &&
      e.message.startsWith(join(noImage, 'Annotations/a.xml')) &&
      /image not found/.test(e.message),
  );
  const corrupt = tree({
    'Annotations/a.xml': '<annotation>\n<object>\n</annotation>',
    'JPEGImages/a.jpg': jpegHeader(1, 1),
  });
  await assert.rejects(
    readVoc(corrupt, { strict: true }),
    (e) =>
      e instanceof DatasetFormatError &&
      e.message.startsWith(join(corrupt, 'Annotations/a.xml')) &&
      /line 3/.test(e.message),
  );
  const badNumber = tree({
    'Annotations/a.xml': vocXml(vocObject('cat', [10, 5, 'x', 25])),
    'JPEGImages/a.jpg': jpegHeader(100, 50),
  });
  await assert.rejects(
    readVoc(badNumber, { strict: true }),
    (e) => e instanceof DatasetFormatError && /object 1 xmax is not a number: "x"/.test(e.message),
  );
  const noBox = tree({
    'Annotations/a.xml': vocXml('<object><name>cat</name></object>'),
    'JPEGImages/a.jpg': jpegHeader(100, 50),
  });
  await assert.rejects(
    readVoc(noBox, { strict: true }),
    (e) => e instanceof DatasetFormatError && /has no <bndbox>/.test(e.message),
  );
  await assert.rejects(
    readVoc(ok, { split: 'val' }),
    (e) => e instanceof DatasetFormatError && e.message.includes(join(ok, 'ImageSets/Main/val.txt')),
  );
  const listed = tree({
    'Annotations/a.xml': vocXml(''),
    'JPEGImages/a.jpg': jpegHeader(1, 1),
    'ImageSets/Main/val.txt': 'a\nb\n',
  });
  await assert.rejects(
    readVoc(listed, { split: 'val', strict: true }),
    (e) => e instanceof DatasetFormatError && e.message.includes(join(listed, 'Annotations/b.xml')),
  );
  // Without strict, each malformed annotation file is left out with a warning naming it.
  for (const bad of [noImage, corrupt, badNumber, noBox]) {
    const lenient = await readVoc(bad);
    assert.deepEqual(lenient.images, []);
    assert.equal(lenient.warnings.filter((w) => w.skippedFile).length, 1);
    assert.ok(lenient.warnings[0]!.file.startsWith(join(bad, 'Annotations/a.xml')), lenient.warnings[0]!.file);
  }
  await assert.rejects(
    readVoc(tree({ 'JPEGImages/a.jpg': jpegHeader(1, 1) })),
    (e) => e instanceof DatasetFormatError && /Annotations: missing/.test(e.message),
  );
});

test('YOLO reader: normalized boxes to pixels, background images, warnings, errors name the label file', async () => {
  const root = tree({
    'classes.txt': 'cat\ndog\n\n',
    'images/x.jpg': jpegHeader(100, 50),
    'images/y.png': new Uint8Array([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 10, 0, 0, 0, 10, 8,
      6, 0, 0, 0,
    ]),
    'images/notes.txt': 'ignored',
    'labels/x.txt': '0 0.5 0.5 0.2 0.4\r\n1 0.5 0.5 0 0.1\n\n1 1.5 0.5 0.2 0.2\n',
  });
  const d = await readYolo(root);
  assert.deepEqual(d.classes, ['cat', 'dog']);
  assert.deepEqual(
    d.images.map((im) => [im.id, im.width, im.height, im.boxes.length]),
    [
      ['x', 100, 50, 1],
      ['y', 10, 10, 0],
    ],
  );
  assert.deepEqual(d.images[0]!.boxes[0], { className: 'cat', x: 40, y: 15, width: 20, height: 20, difficult: false });
  assert.deepEqual(
    d.warnings.map((w) => w.file),
    [`${join(root, 'labels/x.txt')} (line 2)`, `${join(root, 'labels/x.txt')} (line 4)`],
  );

  const badLine = tree({ 'classes.txt': 'cat', 'images/x.jpg': jpegHeader(10, 10), 'labels/x.txt': '0 0.5 0.5\n' });
  await assert.rejects(
    readYolo(badLine, { strict: true }),
    (e) =>
      e instanceof DatasetFormatError &&
      e.message.startsWith(join(badLine, 'labels/x.txt')) &&
      /line 1: expected "class cx cy w h"/.test(e.message),
  );
  const badClass = tree({
    'classes.txt': 'cat',
    'images/x.jpg': jpegHeader(10, 10),
    'labels/x.txt': '3 0.5 0.5 0.1 0.1\n',
  });
  await assert.rejects(
    readYolo(badClass, { strict: true }),
    (e) => e instanceof DatasetFormatError && /class id 3 is not one of the 1 classes/.test(e.message),
  );
  for (const bad of [badLine, badClass]) {
    const lenient = await readYolo(bad);
    assert.deepEqual(lenient.images, []);
    assert.deepEqual(
      lenient.warnings.map((w) => [w.file, w.skippedFile]),
      [[join(bad, 'labels/x.txt'), true]],
    );
  }
  const noNames = tree({ 'images/x.jpg': jpegHeader(10, 10) });
  await assert.rejects(
    readYolo(noNames),
    (e) => e instanceof DatasetFormatError && e.message.includes(join(noNames, 'classes.txt')),
  );
  const corruptImage = tree({ 'classes.txt': 'cat', 'images/x.jpg': 'GIF89a' });
  await assert.rejects(
    readYolo(corruptImage, { strict: true }),
    (e) => e instanceof DatasetFormatError && e.message.includes(join(corruptImage, 'images/x.jpg')),
  );
  const split = tree({
    'data.yaml': 'names: [cat]\n',
    'images/val/x.jpg': jpegHeader(10, 10),
    'labels/val/x.txt': '0 0.5 0.5 0.5 0.5',
  });
  assert.equal(boxCount(await readDataset(split, { split: 'val' })), 1);
});

test('data.yaml names: flow list, block list, index map', () => {
  assert.deepEqual(yamlNames('path: x\nnames: [\'cat\', "dog, hot", bird]  # three\nnc: 3\n', 'd.yaml'), [
    'cat',
    'dog, hot',
    'bird',
  ]);
  assert.deepEqual(yamlNames('names: [cat,\n  dog]\n', 'd.yaml'), ['cat', 'dog']);
  assert.deepEqual(yamlNames('names:\n  - cat\n  - "dog"\ntrain: images/train\n', 'd.yaml'), ['cat', 'dog']);
  assert.deepEqual(yamlNames('names:\n  0: person\n  # comment\n  1: traffic light\n', 'd.yaml'), [
    'person',
    'traffic light',
  ]);
  assert.throws(
    () => yamlNames('nc: 2\n', 'd.yaml'),
    (e) => e instanceof DatasetFormatError && e.message.startsWith('d.yaml'),
  );
  assert.throws(() => yamlNames('names:\n  1: cat\n', 'd.yaml'), DatasetFormatError);
  assert.throws(() => yamlNames('names: {0: cat}\n', 'd.yaml'), DatasetFormatError);
});

test('COCO reader: crowd and area kept, degenerate and orphan annotations reported, images found beside the JSON', async () => {
  const doc = {
    images: [
      { id: 139, file_name: '000000000139.jpg', width: 640, height: 426 },
      { id: 7, file_name: 'seven.jpg' },
    ],
    categories: [
      { id: 1, name: 'person' },
      { id: 62, name: 'chair' },
    ],
    annotations: [
      { id: 1, image_id: 139, category_id: 1, bbox: [412.8, 157.61, 53.05, 138.01], area: 5000, iscrowd: 0 },
      { id: 2, image_id: 139, category_id: 62, bbox: [10, 10, 100, 50], area: 3000, iscrowd: 1 },
      { id: 3, image_id: 139, category_id: 62, bbox: [10, 10, 0, 50] },
      { id: 4, image_id: 139, category_id: 99, bbox: [10, 10, 5, 5] },
      { id: 5, image_id: 8, category_id: 1, bbox: [10, 10, 5, 5] },
    ],
  };
  const root = tree({
    'annotations/instances_val.json': JSON.stringify(doc),
    'val/000000000139.jpg': jpegHeader(640, 426),
    'val/seven.jpg': jpegHeader(20, 30),
  });
  const d = await readDataset(root);
  assert.equal(d.format, 'coco');
  assert.deepEqual(d.classes, ['person', 'chair']);
  assert.deepEqual(
    d.images.map((im) => [im.id, im.file, im.width, im.height]),
    [
      ['139', join(root, 'val/000000000139.jpg'), 640, 426],
      ['7', join(root, 'val/seven.jpg'), 20, 30],
    ],
  );
  assert.deepEqual(d.images[0]!.boxes, [
    { className: 'person', x: 412.8, y: 157.61, width: 53.05, height: 138.01, difficult: false, area: 5000 },
    { className: 'chair', x: 10, y: 10, width: 100, height: 50, difficult: false, iscrowd: true, area: 3000 },
  ]);
  assert.deepEqual(
    d.warnings.map((w) => w.reason.replace(/ box .*/, '')),
    [
      'skipped degenerate "chair"',
      'skipped annotation 4: unknown category_id 99',
      'skipped annotation 5: unknown image_id 8',
    ],
  );

  const json = join(root, 'annotations/instances_val.json');
  const write = (v: unknown) => (writeFileSync(json, typeof v === 'string' ? v : JSON.stringify(v)), json);
  await assert.rejects(
    readCoco(write('{"images": [')),
    (e) => e instanceof DatasetFormatError && e.message.startsWith(json) && /not valid JSON/.test(e.message),
  );
  await assert.rejects(
    readCoco(write({ images: [] })),
    (e) => e instanceof DatasetFormatError && /"categories" must be an array/.test(e.message),
  );
  await assert.rejects(
    readCoco(write({ ...doc, annotations: [{ id: 9, image_id: 7, category_id: 1, bbox: [1, 2, 3] }] })),
    (e) => e instanceof DatasetFormatError && /annotation 9: bbox must be/.test(e.message),
  );
  await assert.rejects(
    readCoco(write({ ...doc, images: [doc.images[1], { id: 8, file_name: 'gone.jpg' }] })),
    (e) => e instanceof DatasetFormatError && e.message.startsWith(join(root, 'val/gone.jpg')),
  );
  await assert.rejects(
    readCoco(write({ ...doc, images: [{ id: 8, file_name: 'gone.jpg' }] })),
    (e) => e instanceof DatasetFormatError && /cannot find image gone\.jpg/.test(e.message),
  );
  await assert.rejects(
    readCoco(join(root, 'missing.json')),
    (e) => e instanceof DatasetFormatError && e.message.startsWith(join(root, 'missing.json')),
  );
  const other = tree({ 'pics/seven.jpg': jpegHeader(20, 30) });
  write({ ...doc, images: [doc.images[1]], annotations: [] });
  assert.equal(
    (await readCoco(json, { imagesDir: join(other, 'pics') })).images[0]!.file,
    join(other, 'pics/seven.jpg'),
  );
});
