/**
 * The layers of docs/architecture.md, checked on every import in src/: a module imports only from
 * its own folder or from folders of a lower layer, never a front end (bench, test, web, scripts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = process.env.MOBILESSD_ROOT ?? process.cwd();

/** Layer of each top-level folder or file of src/ (the entries index.ts and browser.ts have their own). */
const LAYER: Record<string, number> = {
  'errors.ts': 0,
  'detect_types.ts': 0,
  core: 1,
  gpu: 2,
  image: 2,
  onnx: 2,
  charts: 2,
  eval: 2,
  kernels: 3,
  ops: 4,
  graph: 5,
  ssd: 6,
  convert: 7,
  api: 7,
  'node_gpu.ts': 7,
  node: 8,
  browser: 8,
  video: 9,
  train: 9,
  'index.ts': 10,
  'browser.ts': 10,
  cli: 11,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** `src/ops/conv2d.ts` -> `ops`; `src/index.ts` -> `index.ts`. */
function unit(file: string): string {
  return relative(join(ROOT, 'src'), file).split('/')[0]!;
}

test('every import in src/ points down the layers (or stays in its folder), none at a front end', () => {
  const problems: string[] = [];
  const files = sources(join(ROOT, 'src'));
  for (const file of files) {
    const from = unit(file);
    assert.ok(from in LAYER, `src/${from} has no layer in this test or in docs/architecture.md`);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = normalize(join(dirname(file), m[1]!));
      const where = relative(ROOT, target);
      if (where.startsWith('shaders/') && where.endsWith('.wgsl')) continue;
      if (!where.startsWith('src/')) {
        problems.push(`${relative(ROOT, file)} imports ${where}, outside the library`);
        continue;
      }
      const to = unit(target);
      if (to !== from && !(LAYER[to]! < LAYER[from]!))
        problems.push(
          `${relative(ROOT, file)} (${from}, layer ${LAYER[from]}) imports ${where} (${to}, layer ${LAYER[to]})`,
        );
    }
  }
  assert.ok(files.length > 100, `found ${files.length} files`);
  assert.deepEqual(problems, []);
});
