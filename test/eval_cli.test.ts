/** `mobilessd eval` end to end: a slice of a real dataset, a one-image dataset with a known answer, and bad inputs. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseXml } from '../src/eval/datasets/xml.ts';
import { imageSize, isImageSizeProblem } from '../src/eval/image_size.ts';
import { sharedPath } from '../scripts/shared_data.ts';

const root = process.env.MOBILESSD_ROOT ?? process.cwd();
const cliJs = join(root, '.build/test/support/cli_main.js');
const VOC = sharedPath(root, 'datasets/voc2012-100');
const work = mkdtempSync(join(tmpdir(), 'mobilessd-eval-'));
after(() => rmSync(work, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [cliJs, 'eval', ...args, '--quiet'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A VOC dataset of samples/dog.jpg with its three objects (as oid-v4 sees them at 300x300) and one degenerate box. */
function dogDataset(): string {
  const dir = join(work, 'dog-voc');
  mkdirSync(join(dir, 'Annotations'), { recursive: true });
  mkdirSync(join(dir, 'JPEGImages'), { recursive: true });
  copyFileSync(join(root, 'samples/dog.jpg'), join(dir, 'JPEGImages/dog.jpg'));
  const object = (name: string, [xmin, ymin, xmax, ymax]: number[]) =>
    `<object><name>${name}</name><difficult>0</difficult><bndbox><xmin>${xmin}</xmin><ymin>${ymin}</ymin><xmax>${xmax}</xmax><ymax>${ymax}</ymax></bndbox></object>`;
  const objects = [
    object('dog', [125, 212, 323, 552]),
    object('bicycle', [129, 124, 569, 481]),
    object('car', [459, 83, 694, 170]),
    object('car', [300, 40, 290, 60]),
  ];
  writeFileSync(
    join(dir, 'Annotations/dog.xml'),
    `<annotation><filename>dog.jpg</filename><size><width>768</width><height>576</height></size>${objects.join('')}</annotation>`,
  );
  return dir;
}

interface EvalDoc {
  result: {
    mAP: number;
    mAP11: number;
    sharedClasses: string[];
    perClass: PerClass[];
    coco: { ap: number; ap50: number };
    dataset: { images: number };
  };
}
interface PerClass {
  className: string;
  groundTruths: number;
  detections: number;
  truePositives: number;
  falsePositives: number;
  ap: number;
  ap11: number;
}

/**
 * No figure pinned (a real model on real photos), but the figures must agree with each other: mAP is the mean of the
 * per-class APs, the table prints it, and each class's AP is positive once it has a true positive and never above its
 * recall ceiling TP / GT (all-point AP integrates precision over recall up to the last TP).
 */
function assertConsistent(doc: EvalDoc, stdout: string) {
  const perClass = doc.result.perClass;
  assert.deepEqual(
    perClass.map((c) => c.className),
    doc.result.sharedClasses,
  );
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(doc.result.mAP - mean(perClass.map((c) => c.ap))) < 1e-12, `mAP ${doc.result.mAP}`);
  assert.ok(Math.abs(doc.result.mAP11 - mean(perClass.map((c) => c.ap11))) < 1e-12, `mAP11 ${doc.result.mAP11}`);
  assert.ok(stdout.includes(`all-point ${(100 * doc.result.mAP).toFixed(1)}%`), 'the table prints the JSON mAP');
  for (const c of perClass) {
    assert.equal(c.truePositives + c.falsePositives, c.detections, c.className);
    assert.ok(c.truePositives <= c.groundTruths, c.className);
    assert.ok(c.ap <= c.truePositives / c.groundTruths + 1e-12, `${c.className}: AP ${c.ap} above its recall`);
    assert.ok(c.truePositives === 0 ? c.ap === 0 : c.ap > 0, `${c.className}: AP ${c.ap}, TP ${c.truePositives}`);
  }
  assert.ok(doc.result.coco.ap >= 0 && doc.result.coco.ap <= doc.result.coco.ap50, 'COCO AP <= AP50');
}

test('eval on 8 VOC images: table, mAP lines, parseable JSON whose figures agree, and a well-formed SVG chart', () => {
  const json = join(work, 'voc8.json');
  const chart = join(work, 'voc8.svg');
  const r = cli(VOC, '--limit', '8', '--json', json, '--chart', chart);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^class\s+model labels\s+GT\s+ignored\s+dets\s+TP\s+FP\s+AP\s+AP 11pt\s+COCO AP/m);
  assert.match(r.stdout, /^person\s+Person\s+3\s/m);
  assert.match(r.stdout, /VOC mAP@0\.5 \(continuous IoU\): all-point \d+\.\d%, 11-point \d+\.\d%/);
  assert.match(r.stdout, /COCO AP@\[\.50:\.95\] \d+\.\d%/);
  assert.match(r.stdout, /per-class NMS at IoU 0\.5 \(the model's own\), score >= 0\.01, at most 100 per class/);
  const doc = JSON.parse(readFileSync(json, 'utf8')) as EvalDoc & {
    model: { name: string };
    settings: { scoreThreshold: number };
  };
  assert.equal(doc.model.name, 'oid-v4');
  assert.equal(doc.result.dataset.images, 8);
  assert.equal(doc.settings.scoreThreshold, 0.01);
  assertConsistent(doc, r.stdout);
  assert.deepEqual(doc.result.sharedClasses, ['chair', 'dog', 'person', 'tvmonitor']);
  const svg = parseXml(readFileSync(chart, 'utf8'), chart);
  assert.equal(svg.name, 'svg');
  assert.equal(svg.children.filter((c) => c.name === 'polyline').length, 4, 'one PR curve per class');
});

test('a known answer: the dog photo scores mAP 1, and its degenerate box is a warning, not an error', () => {
  const dir = dogDataset();
  const r = cli(dir, '--json', join(work, 'dog.json'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /shared classes \(3\): bicycle, car, dog/);
  assert.match(r.stdout, /all-point 100\.0%, 11-point 100\.0%/);
  assert.match(r.stdout, /warnings: 1 annotation\(s\) skipped\n.*dog\.xml: skipped degenerate "car" box/);
  // A class map drops a label; --metric voc prints only the VOC figures.
  writeFileSync(join(work, 'map.json'), JSON.stringify({ Dog: null }));
  const m = cli(dir, '--class-map', join(work, 'map.json'), '--metric', 'voc');
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /shared classes \(2\): bicycle, car\n/);
  assert.match(m.stdout, /VOC mAP@0\.5/);
  assert.doesNotMatch(m.stdout, /COCO AP/);
});

test('a dataset path that does not exist: exit 1 naming it; bad flags: exit 2', () => {
  const missing = join(work, 'no-such-dataset');
  const r = cli(missing);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`DATASET_FORMAT.*${missing}: not found`));
  for (const args of [
    ['--format', 'pascal'],
    ['--metric', 'f1'],
    ['--limit', '0'],
    ['--input-size', 'big'],
  ]) {
    const b = cli(VOC, ...args);
    assert.equal(b.code, 2, `${args.join(' ')}: ${b.stderr}`);
    assert.match(b.stderr, new RegExp(`--${args[0]!.slice(2)}`));
  }
  const none = cli();
  assert.equal(none.code, 2);
  assert.match(none.stderr, /exactly one dataset path/);
});

/** A COCO instances JSON of samples/dog.jpg (images/ beside it): dog and bicycle boxes, and the given car boxes. */
function dogCoco(name: string, cars: { bbox: number[]; iscrowd: 0 | 1 }[]): string {
  const dir = join(work, 'dog-coco');
  mkdirSync(join(dir, 'images'), { recursive: true });
  copyFileSync(join(root, 'samples/dog.jpg'), join(dir, 'images/dog.jpg'));
  const boxes = [
    { category_id: 1, bbox: [125, 212, 198, 340], iscrowd: 0 },
    { category_id: 2, bbox: [129, 124, 440, 357], iscrowd: 0 },
    ...cars.map((c) => ({ category_id: 3, ...c })),
  ];
  const doc = {
    images: [{ id: 1, file_name: 'dog.jpg', width: 768, height: 576 }],
    categories: ['dog', 'bicycle', 'car'].map((n, i) => ({ id: i + 1, name: n })),
    annotations: boxes.map((b, i) => ({ id: i + 1, image_id: 1, area: b.bbox[2]! * b.bbox[3]!, ...b })),
  };
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

test('eval on COCO JSON with crowd regions: a crowd region is ignored, never a ground truth to find', () => {
  const carBox = [459, 83, 235, 87];
  const leftHalf = [0, 0, 384, 576];
  const runs = {
    crowdOnly: cli(dogCoco('crowd-only', [{ bbox: leftHalf, iscrowd: 1 }]), '--json', join(work, 'c1.json')),
    withCrowd: cli(
      dogCoco('with-crowd', [
        { bbox: carBox, iscrowd: 0 },
        { bbox: leftHalf, iscrowd: 1 },
      ]),
      '--json',
      join(work, 'c2.json'),
    ),
  };
  for (const r of Object.values(runs)) assert.equal(r.code, 0, r.stderr);
  type Doc = { result: { sharedClasses: string[]; mAP: number; perClass: Record<string, unknown>[] } };
  const [crowdOnly, withCrowd] = ['c1', 'c2'].map(
    (f) => JSON.parse(readFileSync(join(work, `${f}.json`), 'utf8')) as Doc,
  );
  // Car's only annotation is a crowd region: car has nothing to find, so it is not scored at all.
  assert.deepEqual(crowdOnly!.result.sharedClasses, ['dog', 'bicycle']);
  assert.match(runs.crowdOnly.stdout, /mapped classes without ground truth here: car/);
  // With a real car too, the crowd region is counted as ignored, and the three objects are found (mAP 1).
  const car = withCrowd!.result.perClass.find((c) => c.className === 'car');
  assert.deepEqual([car?.groundTruths, car?.ignoredGroundTruths, car?.truePositives], [1, 1, 1]);
  assert.equal(withCrowd!.result.mAP, 1);
  assert.match(runs.withCrowd.stdout, /^car\s+Car\s+1\s+1\s/m);
});

test('eval on a YOLO slice of coco128-val: consistent figures, and the same result as its boxes in a COCO JSON', () => {
  // Six images with their YOLO labels; the COCO instances JSON beside them holds the same boxes in pixels, converted
  // as the YOLO reader converts them, so both readers hand the evaluator the same ground truth.
  const coco128 = sharedPath(root, 'datasets/coco128-val');
  const dir = join(work, 'coco6');
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'labels'), { recursive: true });
  copyFileSync(join(coco128, 'classes.txt'), join(dir, 'classes.txt'));
  const classes = readFileSync(join(dir, 'classes.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  const stems = readdirSync(join(coco128, 'images'))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, 6)
    .map((f) => f.slice(0, -4));
  const coco = { images: [] as object[], annotations: [] as object[], categories: [] as object[] };
  coco.categories = classes.filter(Boolean).map((name, i) => ({ id: i + 1, name }));
  stems.forEach((stem, i) => {
    copyFileSync(join(coco128, 'images', `${stem}.jpg`), join(dir, 'images', `${stem}.jpg`));
    const labels = readFileSync(join(coco128, 'labels', `${stem}.txt`), 'utf8');
    writeFileSync(join(dir, 'labels', `${stem}.txt`), labels);
    const size = imageSize(readFileSync(join(dir, 'images', `${stem}.jpg`)));
    assert.ok(!isImageSizeProblem(size), stem);
    const { width, height } = size;
    coco.images.push({ id: i + 1, file_name: `${stem}.jpg`, width, height });
    for (const line of labels.split('\n').filter((l) => l.trim())) {
      const [c, cx, cy, w, h] = line.trim().split(/\s+/).map(Number) as [number, number, number, number, number];
      const bbox = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height];
      coco.annotations.push({ id: coco.annotations.length + 1, image_id: i + 1, category_id: c + 1, bbox, iscrowd: 0 });
    }
  });
  writeFileSync(join(dir, 'instances.json'), JSON.stringify(coco));

  const runs = {
    yolo: cli(dir, '--json', join(work, 'yolo6.json')),
    coco: cli(join(dir, 'instances.json'), '--json', join(work, 'coco6.json')),
  };
  for (const r of Object.values(runs)) assert.equal(r.code, 0, r.stderr);
  const readDoc = (f: string) => JSON.parse(readFileSync(join(work, f), 'utf8')) as EvalDoc;
  const [yolo, fromJson] = [readDoc('yolo6.json'), readDoc('coco6.json')];
  assert.match(runs.yolo.stdout, /dataset: .*coco6 \(yolo, 6 images, \d+ boxes\)/);
  assert.match(runs.coco.stdout, /dataset: .*instances\.json \(coco, 6 images, \d+ boxes\)/);
  assertConsistent(yolo, runs.yolo.stdout);
  assert.equal(yolo.result.dataset.images, 6);
  // The slice has people, and oid-v4 finds some of them: a scored class with true positives.
  const person = yolo.result.perClass.find((c) => c.className === 'person');
  assert.ok(person && person.groundTruths > 0 && person.truePositives > 0, JSON.stringify(person));
  // Same boxes, same detections: every per-class figure and both metrics agree exactly.
  assert.deepEqual(fromJson.result.perClass, yolo.result.perClass);
  assert.deepEqual(fromJson.result.coco, yolo.result.coco);
  assert.equal(fromJson.result.mAP, yolo.result.mAP);
});
