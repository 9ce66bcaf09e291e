/**
 * What the fuzz campaign feeds and to what: real model files (OID and COCO TFLite, the face-api
 * manifest and shard, converted models in our format) and small real and hand-made images, each
 * mutated by support/fuzz.ts and handed to the reader a user's file would reach. Flatbuffer
 * mutations are aimed at the fields the reader actually follows in that file, found by watching
 * its DataView reads on the unmutated file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { convertFaceApi } from '../../src/convert/faceapi_to_ir.ts';
import { decodeTfjsWeights, parseTfjsManifest } from '../../src/convert/tfjs_manifest.ts';
import { parseTflite, tensorData } from '../../src/convert/tflite.ts';
import { convertTflite, POST_PROCESS_OP, readPostProcessOptions } from '../../src/convert/tflite_to_ir.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { lowerGraph } from '../../src/graph/lower.ts';
import { parseModel, serializeModel, validateModel, weightsInfo } from '../../src/graph/model_format.ts';
import { planMemory } from '../../src/graph/planner.ts';
import { mutateBytes, mutateJson, type Field, type Mutant, type MutationKind, type Random } from './fuzz.ts';
import { exifSegment, writeJpeg } from './jpeg_writer.ts';
import { cocoBytes, convertedCoco, faceManifest, faceShard, oidBytes, ROOT } from './model_sources.ts';
import { fixCrcs, writePng } from './png_writer.ts';
import { syntheticModel } from './synthetic_model.ts';

/** One fuzz case: the input's name, its size, and the call under test. */
export interface FuzzCase {
  source: string;
  /** What a typed error must name (default: source); a model's errors may name either of its files. */
  mentions?: string;
  what: string;
  bytes: number;
  run(): unknown;
}

export interface FuzzTarget {
  name: string;
  /** Case `index` of this target, drawn from `r`; index -1 is the unmutated seed (the baseline). */
  make(r: Random, index: number): FuzzCase;
}

/** Decode limits for image cases: header-declared sizes up to these are honoured, and bound the allocation. */
const IMAGE_LIMITS = { maxSide: 2048, maxPixels: 1_000_000 };

const LOADERS: Record<string, () => Promise<FuzzTarget>> = {
  'tflite-oid': () => tfliteReader('oid', oidBytes()),
  'tflite-coco': () => tfliteReader('coco', cocoBytes()),
  'tflite-convert': tfliteConvert,
  'tfjs-manifest': tfjsManifest,
  'faceapi-convert': faceapiConvert,
  'model-synthetic': async () => modelFormat('synthetic', await withHashes(syntheticModel())),
  'model-coco': async () => modelFormat('coco', await convertedCoco()),
  jpeg: async () => images('jpeg', jpegSeeds(), undefined),
  png: async () => images('png', pngSeeds(), fixCrcs),
};

export const TARGET_NAMES: readonly string[] = Object.keys(LOADERS);

/**
 * Targets that misbehave on purpose, to prove the campaign notices: case 1 of `selftest-hang` never
 * returns; `selftest-allocation` trusts a header count the way an unchecked reader would (case 1
 * also swallows the error, as a catch-all in a reader might).
 */
const SELF_TESTS: Record<string, () => Promise<FuzzTarget>> = {
  'selftest-hang': async () => ({
    name: 'selftest-hang',
    make: (_r, index) => ({
      source: `hang-${index}`,
      what: index === 1 ? 'spins forever' : 'returns',
      bytes: 0,
      run: () => {
        while (index === 1) Math.random();
      },
    }),
  }),
  'selftest-allocation': async () => ({
    name: 'selftest-allocation',
    make: (_r, index) => {
      const header = new DataView(new ArrayBuffer(4));
      header.setUint32(0, index < 0 ? 16 : 2 ** 30, true);
      const naiveRead = () => new Float32Array(header.getUint32(0, true));
      return {
        source: `alloc-${index}`,
        what: `declares ${header.getUint32(0, true)} floats`,
        bytes: 4,
        run: () => {
          if (index !== 1) return naiveRead();
          try {
            return naiveRead();
          } catch {
            return undefined;
          }
        },
      };
    },
  }),
};

export function loadTarget(name: string): Promise<FuzzTarget> {
  const load = LOADERS[name] ?? SELF_TESTS[name];
  if (!load) throw new Error(`unknown fuzz target ${name} (known: ${TARGET_NAMES.join(', ')})`);
  return load();
}

// ---------------------------------------------------------------- TFLite

/** Everything the converter asks of the TFLite reader: structure, every constant's size, custom options. */
export function readTfliteFully(bytes: Uint8Array, file: string): void {
  const m = parseTflite(bytes, file);
  for (const t of m.tensors) tensorData(m, t);
  for (const op of m.operators) if (op.code.custom === POST_PROCESS_OP) readPostProcessOptions(m, op);
}

async function tfliteReader(model: string, seed: Uint8Array): Promise<FuzzTarget> {
  const fields = recordReads(seed, () => readTfliteFully(seed, model));
  return {
    name: `tflite-${model}`,
    make(r, index) {
      const m: Mutant = index < 0 ? { bytes: seed, what: 'unmutated' } : mutateBytes(seed, fields, r);
      const source = `${model}-${index}.tflite`;
      return { source, what: m.what, bytes: m.bytes.length, run: () => readTfliteFully(m.bytes, source) };
    },
  };
}

async function tfliteConvert(): Promise<FuzzTarget> {
  const seed = cocoBytes();
  const fields = recordReads(seed, () => readTfliteFully(seed, 'coco'));
  return {
    name: 'tflite-convert',
    make(r, index) {
      const m: Mutant = index < 0 ? { bytes: seed, what: 'unmutated' } : mutateBytes(seed, fields, r);
      const source = `convert-${index}.tflite`;
      return {
        source,
        what: m.what,
        bytes: m.bytes.length,
        // A given source hash skips hashing 4 MB per case; the converter's output must itself validate.
        run: async () => {
          const out = await convertTflite(m.bytes, { file: source, name: 'fuzz', sourceSha256: '0'.repeat(64) });
          validateModel(out.json, out.weights, source);
        },
      };
    },
  };
}

/**
 * The DataView reads `read` makes inside `bytes`, as fields: the offsets, lengths, vtable entries
 * and scalars a flatbuffer reader follows. Patches DataView.prototype for the duration of the call.
 */
function recordReads(bytes: Uint8Array, read: () => void): Field[] {
  const widths = {
    getUint8: 1,
    getInt8: 1,
    getUint16: 2,
    getInt16: 2,
    getUint32: 4,
    getInt32: 4,
    getFloat32: 4,
    getFloat64: 8,
    getBigInt64: 8,
    getBigUint64: 8,
  } as const;
  const proto = DataView.prototype as unknown as Record<
    string,
    (this: DataView, pos: number, littleEndian?: boolean) => unknown
  >;
  const seen = new Map<number, Field>();
  const originals = Object.keys(widths).map((name) => [name, proto[name]!] as const);
  for (const [name, original] of originals) {
    const width = widths[name as keyof typeof widths];
    proto[name] = function (pos, littleEndian) {
      const at = this.byteOffset + pos - bytes.byteOffset;
      if (this.buffer === bytes.buffer && at >= 0 && at < bytes.length && !seen.has(at))
        seen.set(at, { pos: at, width, littleEndian: littleEndian ?? false });
      return original.call(this, pos, littleEndian);
    };
  }
  try {
    read();
  } finally {
    for (const [name, original] of originals) proto[name] = original;
  }
  return [...seen.values()].sort((a, b) => a.pos - b.pos);
}

// ---------------------------------------------------------------- TF.js (face-api)

/** Only mutations that change a shard's length: a flipped weight byte is still a valid weight. */
const LENGTH_MUTATIONS: readonly MutationKind[] = ['truncate', 'insert', 'delete'];

function faceCase(
  r: Random,
  index: number,
  prefix: string,
): { source: string; what: string; text: string; shard: Uint8Array } {
  const text = faceManifest();
  const shard = faceShard();
  const source = `${prefix}-${index}-weights_manifest.json`;
  if (index < 0) return { source, what: 'unmutated', text, shard };
  if (r.chance(0.75)) {
    const m = mutateJson(text, r);
    return { source, what: `manifest ${m.what}`, text: new TextDecoder().decode(m.bytes), shard };
  }
  const m = mutateBytes(shard, [], r, LENGTH_MUTATIONS);
  return { source, what: `shard ${m.what}`, text, shard: m.bytes };
}

async function tfjsManifest(): Promise<FuzzTarget> {
  return {
    name: 'tfjs-manifest',
    make(r, index) {
      const c = faceCase(r, index, 'tfjs');
      return {
        source: c.source,
        what: c.what,
        bytes: c.text.length + c.shard.length,
        run: () => decodeTfjsWeights(parseTfjsManifest(c.text, c.source), [c.shard], c.source),
      };
    },
  };
}

async function faceapiConvert(): Promise<FuzzTarget> {
  return {
    name: 'faceapi-convert',
    make(r, index) {
      const c = faceCase(r, index, 'face');
      return {
        source: c.source,
        what: c.what,
        bytes: c.text.length + c.shard.length,
        run: async () => {
          const out = await convertFaceApi(c.text, [c.shard], { file: c.source, name: 'fuzz' });
          validateModel(out.json, out.weights, c.source);
        },
      };
    },
  };
}

// ---------------------------------------------------------------- our model format

async function withHashes(model: ReturnType<typeof syntheticModel>) {
  model.json.weights = await weightsInfo(model.weights);
  return model;
}

/** model.json + weights.bin through the loader's validation, then the lowering every validated model must survive. */
function modelFormat(name: string, model: Awaited<ReturnType<typeof convertedCoco>>): FuzzTarget {
  const { json, weights } = serializeModel(model);
  return {
    name: `model-${name}`,
    make(r, index) {
      let text = json;
      let w = weights;
      let what = 'unmutated';
      if (index >= 0) {
        const roll = r.float();
        if (roll < 0.8) {
          const m = mutateJson(json, r);
          text = new TextDecoder().decode(m.bytes);
          what = `model.json ${m.what}`;
        } else {
          const m = mutateBytes(weights, [], r, roll < 0.9 ? LENGTH_MUTATIONS : undefined);
          w = m.bytes;
          what = `weights ${m.what}`;
        }
      }
      const source = `${name}-${index}/model.json`;
      return {
        source,
        mentions: `${name}-${index}/`,
        what,
        bytes: text.length + w.length,
        run: async () => {
          const loaded = await parseModel(text, w, source);
          for (const batch of [1, 3]) {
            const lowered = lowerGraph(loaded.json, batch);
            planMemory(
              [...lowered.roots].map(([id, root]) => ({ id, ...root })),
              256,
            );
          }
        },
      };
    },
  };
}

// ---------------------------------------------------------------- images

interface ImageSeed {
  name: string;
  bytes: Uint8Array;
  fields: Field[];
}

/** A corner of a real photo, small enough that a case decodes in about a millisecond. */
function photoCrop(width: number, height: number): { data: Uint8Array; width: number; height: number } {
  const cat = decodeImage(readFileSync(join(ROOT, 'samples/cat.jpg')), 'cat.jpg');
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    data.set(
      cat.data.subarray(((y + 100) * cat.width + 200) * 4, ((y + 100) * cat.width + 200 + width) * 4),
      y * width * 4,
    );
  return { data, width, height };
}

function jpegSeeds(): ImageSeed[] {
  const block = (bx: number, by: number, c: number) => (40 + 50 * bx + 30 * by + 70 * c) % 256;
  const seeds = [
    ['photo-baseline.jpg', new Uint8Array(jpeg.encode(photoCrop(48, 32), 85).data)],
    ['progressive.jpg', writeJpeg({ blocksX: 3, blocksY: 2, components: 3, block, progressive: true })],
    ['exif-grey.jpg', writeJpeg({ blocksX: 2, blocksY: 2, components: 1, block, segments: [exifSegment(6)] })],
    ['cmyk.jpg', writeJpeg({ blocksX: 2, blocksY: 1, components: 4, block })],
    // cjpeg's (scripts/make-jpeg-fixtures.sh): successive-approximation scans, and restart intervals.
    ['progressive-420.jpg', new Uint8Array(readFileSync(join(ROOT, 'test/fixtures/jpeg/s2x2-progressive.jpg')))],
    ['restart-420.jpg', new Uint8Array(readFileSync(join(ROOT, 'test/fixtures/jpeg/420-restart-5blocks.jpg')))],
  ] as const;
  return seeds.map(([name, bytes]) => ({ name, bytes, fields: jpegFields(bytes) }));
}

function pngSeeds(): ImageSeed[] {
  const seeds = [
    [
      'photo-rgba.png',
      new Uint8Array(
        PNG.sync.write(
          Object.assign(new PNG({ width: 24, height: 16 }), { data: Buffer.from(photoCrop(24, 16).data) }),
        ),
      ),
    ],
    [
      'palette-interlaced.png',
      writePng({
        width: 11,
        height: 7,
        depth: 4,
        colorType: 3,
        samples: Array.from({ length: 77 }, (_, k) => k % 16),
        palette: Array.from({ length: 16 }, (_, k) => [k * 16, 255 - k * 16, 7] as [number, number, number]),
        trns: [0, 9],
        interlace: true,
      }),
    ],
    [
      'grey16.png',
      writePng({
        width: 6,
        height: 5,
        depth: 16,
        colorType: 0,
        samples: Array.from({ length: 30 }, (_, k) => k * 2000),
      }),
    ],
  ] as const;
  return seeds.map(([name, bytes]) => ({ name, bytes, fields: pngFields(bytes) }));
}

function images(format: string, seeds: ImageSeed[], repair: ((b: Uint8Array) => Uint8Array) | undefined): FuzzTarget {
  return {
    name: format,
    make(r, index) {
      const seed = index < 0 ? seeds[0]! : r.pick(seeds);
      let m: Mutant = index < 0 ? { bytes: seed.bytes, what: 'unmutated' } : mutateBytes(seed.bytes, seed.fields, r);
      // Repaired checksums let corruption reach inflate and unfiltering instead of stopping at the CRC.
      if (repair && index >= 0 && r.chance(0.6)) m = { bytes: repair(m.bytes), what: `${m.what}, CRCs repaired` };
      const source = `${index}-${seed.name}`;
      return {
        source,
        what: `${seed.name}: ${m.what}`,
        bytes: m.bytes.length,
        run: () => decodeImage(m.bytes, source, IMAGE_LIMITS),
      };
    },
  };
}

/** Segment lengths, frame size and sampling, Huffman counts, scan headers, EXIF offsets. */
function jpegFields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  const be = (pos: number, width: 1 | 2 | 4): Field => ({ pos, width, littleEndian: false });
  for (let i = 2; i + 4 <= b.length && b[i] === 0xff;) {
    const marker = b[i + 1]!;
    if (marker === 0xd9) break;
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    const p = i + 4;
    out.push(be(i + 2, 2));
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      out.push(be(p, 1), be(p + 1, 2), be(p + 3, 2), be(p + 5, 1));
      for (let c = 0; c < b[p + 5]!; c++) out.push(be(p + 7 + 3 * c, 1));
    } else if (marker === 0xc4) {
      out.push(be(p, 1));
      for (let k = 1; k <= 16; k++) out.push(be(p + k, 1));
    } else if (marker === 0xda) {
      out.push(be(p, 1), be(p + len - 5, 1), be(p + len - 4, 1), be(p + len - 3, 1));
    } else if (marker === 0xe1 && len > 16) {
      const little = b[p + 6] === 0x49;
      out.push({ pos: p + 10, width: 4, littleEndian: little }, { pos: p + 14, width: 2, littleEndian: little });
    }
    if (marker === 0xda) break;
    i += 2 + len;
  }
  return out.filter((f) => f.pos + f.width <= b.length);
}

/** Chunk lengths, IHDR size, depth, colour type and interlace, and the zlib header. */
function pngFields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let firstIdat = true;
  for (let i = 8; i + 12 <= b.length;) {
    const len = view.getUint32(i);
    const type = String.fromCharCode(...b.subarray(i + 4, i + 8));
    out.push({ pos: i, width: 4, littleEndian: false });
    if (type === 'IHDR')
      for (const [o, w] of [
        [0, 4],
        [4, 4],
        [8, 1],
        [9, 1],
        [12, 1],
      ] as const)
        out.push({ pos: i + 8 + o, width: w, littleEndian: false });
    if (type === 'IDAT' && firstIdat) {
      out.push({ pos: i + 8, width: 2, littleEndian: false });
      firstIdat = false;
    }
    i += 12 + len;
  }
  return out;
}
