import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MobileSsdError, TfliteFormatError } from '../src/errors.ts';
import { FlatBuffer } from '../src/convert/flatbuffer.ts';
import { readFlexMap } from '../src/convert/flexbuffer.ts';
import { parseTflite, readOptions, tensorData } from '../src/convert/tflite.ts';
import { CONV_OPTIONS } from '../src/ops/support/conv.ts';
import { POST_PROCESS_OP, readPostProcessOptions } from '../src/convert/tflite_to_ir.ts';
import { cocoBytes, oidBytes, seededInts } from './support/model_sources.ts';

/**
 * A hand-assembled flatbuffer: vtable at 8, root table at 24 with an int32 field (-7), a string
 * ("hi"), an int32 vector ([1, 2, 3]), an absent fourth field and a vector of strings (["ab", "c"]).
 */
function tinyBuffer(): Uint8Array {
  const b = new Uint8Array(96);
  const v = new DataView(b.buffer);
  const text = (at: number, s: string) => {
    v.setUint32(at, s.length, true);
    b.set(
      [...s].map((c) => c.charCodeAt(0)),
      at + 4,
    );
  };
  v.setUint32(0, 24, true);
  b.set(
    [...'TEST'].map((c) => c.charCodeAt(0)),
    4,
  );
  [14, 20, 4, 8, 12, 0, 16].forEach((x, i) => v.setUint16(8 + 2 * i, x, true));
  v.setInt32(24, 24 - 8, true);
  v.setInt32(28, -7, true);
  v.setUint32(32, 44 - 32, true);
  v.setUint32(36, 52 - 36, true);
  v.setUint32(40, 68 - 40, true);
  text(44, 'hi');
  [3, 1, 2, 3].forEach((x, i) => v.setInt32(52 + 4 * i, x, true));
  v.setUint32(68, 2, true);
  v.setUint32(72, 80 - 72, true);
  v.setUint32(76, 88 - 76, true);
  text(80, 'ab');
  text(88, 'c');
  return b;
}

test('flatbuffer reader: scalars, defaults, strings, vectors, identifier', () => {
  const fb = new FlatBuffer(tinyBuffer(), 'tiny.bin');
  assert.equal(fb.identifier(), 'TEST');
  const t = fb.root('root');
  assert.equal(t.i32(0, 'a'), -7);
  assert.equal(t.string(1, 'b'), 'hi');
  assert.deepEqual(t.i32s(2, 'c'), [1, 2, 3]);
  assert.equal(t.i32(3, 'absent', 5), 5, 'a zero vtable entry means the default');
  assert.equal(t.f32(3, 'absent', 1.5), 1.5);
  assert.equal(t.bool(3, 'absent', true), true);
  assert.equal(t.u8(0, 'low byte of a'), 0xf9);
  assert.deepEqual(t.strings(4, 'e'), ['ab', 'c']);
  assert.equal(t.i32(9, 'beyond vtable', 42), 42, 'fields past the vtable are defaults');
  assert.equal(t.table(3, 'absent table'), undefined);
  const bytes = t.bytes(2, 'c as bytes')!;
  assert.equal(bytes.buffer, fb.bytes.buffer, 'byte vectors are views, not copies');
  assert.equal(bytes.byteLength, 3);
});

test('flatbuffer reader: every bad offset or size is a TfliteFormatError naming the file', () => {
  const cases: [string, (v: DataView) => void, RegExp][] = [
    ['root offset outside the file', (v) => v.setUint32(0, 0xfffffff0, true), /outside the file/],
    ['vtable outside the file', (v) => v.setInt32(24, -100000, true), /outside the file/],
    ['odd vtable size', (v) => v.setUint16(8, 7, true), /invalid size 7/],
    ['field beyond its table', (v) => v.setUint16(12, 19, true), /runs past its table/],
    ['huge vector length', (v) => v.setUint32(52, 0x7fffffff, true), /past the end of the file/],
    ['string offset outside the file', (v) => v.setUint32(32, 0x10000000, true), /outside the file/],
    ['string in a vector running past the end', (v) => v.setUint32(88, 1000, true), /past the end of the file/],
  ];
  for (const [name, patch, re] of cases) {
    const b = tinyBuffer();
    patch(new DataView(b.buffer));
    assert.throws(
      () => {
        const t = new FlatBuffer(b, 'tiny.bin').root('root');
        t.i32(0, 'a');
        t.string(1, 'b');
        t.i32s(2, 'c');
        t.strings(4, 'e');
      },
      (e: unknown) => e instanceof TfliteFormatError && e.message.startsWith('tiny.bin: ') && re.test(e.message),
      name,
    );
  }
});

test('flatbuffer reader: many tables sharing one big vector cannot amplify work without bound', () => {
  // Root -> vector of K offsets that all point at one table T, whose int vector has L elements.
  const K = 1000,
    L = 4000;
  const P = 28 + 4 * K;
  const b = new Uint8Array(P + 12 + 4 * L);
  const v = new DataView(b.buffer);
  v.setUint32(0, 16, true);
  [6, 8, 4].forEach((x, i) => v.setUint16(8 + 2 * i, x, true));
  v.setInt32(16, 16 - 8, true);
  v.setUint32(20, 4, true);
  v.setUint32(24, K, true);
  for (let k = 0; k < K; k++) v.setUint32(28 + 4 * k, P - (28 + 4 * k), true);
  v.setInt32(P, P - 8, true);
  v.setUint32(P + 4, 4, true);
  v.setUint32(P + 8, L, true);
  const root = new FlatBuffer(b, 'bomb.bin').root('root');
  assert.throws(
    () => {
      for (const t of root.tables(0, 'items')!) t.i32s(0, 'values');
    },
    (e: unknown) => e instanceof TfliteFormatError && /far more data than the file holds/.test(e.message),
  );
});

test('flexbuffer reader: a hand-assembled map of an int, a string and a typed vector', () => {
  // keys "a" "s" "v" | string "hi" | int vector [1, 2] | keys vector | map (3 values + types) | root.
  const b = new Uint8Array([
    97,
    0,
    115,
    0,
    118,
    0,
    2,
    104,
    105,
    0,
    2,
    1,
    2,
    3,
    14,
    13,
    12,
    3,
    1,
    3,
    0xfd,
    21 - 7,
    22 - 11,
    1 << 2,
    5 << 2,
    11 << 2,
    26 - 20,
    9 << 2,
    1,
  ]);
  const m = readFlexMap(b, 'flex.bin');
  assert.deepEqual({ ...m }, { a: -3, s: 'hi', v: [1, 2] });
  assert.throws(() => readFlexMap(b.subarray(0, 2), 'flex.bin'), TfliteFormatError);
  const bad = b.slice();
  bad[19] = 200; // map size far beyond the buffer
  assert.throws(
    () => readFlexMap(bad, 'flex.bin'),
    (e: unknown) => e instanceof TfliteFormatError && /more than the buffer holds/.test(e.message),
  );
});

test('Open Images model: 241 operators of 6 types, fp16 weights behind 144 DEQUANTIZE', () => {
  const m = parseTflite(oidBytes(), 'oid.tflite');
  assert.equal(m.operators.length, 241);
  const counts: Record<string, number> = {};
  for (const op of m.operators) counts[op.code.name] = (counts[op.code.name] ?? 0) + 1;
  assert.deepEqual(counts, {
    DEQUANTIZE: 144,
    CONV_2D: 55,
    DEPTHWISE_CONV_2D: 17,
    ADD: 10,
    RESHAPE: 13,
    CONCATENATION: 2,
  });
  for (const op of m.operators.filter((o) => o.code.name === 'DEQUANTIZE')) {
    const t = m.tensors[op.inputs[0]!]!;
    assert.equal(t.type, 'FLOAT16', t.name);
    assert.equal(tensorData(m, t)!.byteLength, 2 * t.shape.reduce((a, b) => a * b, 1));
  }
  const input = m.tensors[m.inputs[0]!]!;
  assert.deepEqual(
    [input.name, input.type, input.shape],
    ['normalized_input_image_tensor', 'FLOAT32', [1, 300, 300, 3]],
  );
  assert.deepEqual(
    m.outputs.map((i) => [m.tensors[i]!.name, m.tensors[i]!.shape]),
    [
      ['raw_outputs/box_encodings', [1, 1917, 4]],
      ['raw_outputs/class_predictions', [1, 1917, 24]],
    ],
  );
  const first = m.operators.find((o) => o.code.name === 'CONV_2D')!;
  assert.deepEqual(readOptions(m, first, CONV_OPTIONS), {
    padding: 'SAME',
    strideW: 2,
    strideH: 2,
    dilationW: 1,
    dilationH: 1,
    activation: 'RELU6',
  });
});

test('COCO model: uint8 tensors, per-tensor quantization, the post-process op and its FlexBuffer options', () => {
  const m = parseTflite(cocoBytes(), 'detect.tflite');
  const counts: Record<string, number> = {};
  for (const op of m.operators) counts[op.code.name] = (counts[op.code.name] ?? 0) + 1;
  assert.deepEqual(counts, {
    CONV_2D: 34,
    DEPTHWISE_CONV_2D: 13,
    RESHAPE: 13,
    CONCATENATION: 2,
    LOGISTIC: 1,
    [POST_PROCESS_OP]: 1,
  });
  const input = m.tensors[m.inputs[0]!]!;
  assert.equal(input.type, 'UINT8');
  assert.deepEqual(input.quantization, { scale: [0.0078125], zeroPoint: [128], quantizedDimension: 0 });
  const post = m.operators.find((o) => o.code.custom === POST_PROCESS_OP)!;
  assert.equal(post.code.builtin, 32);
  const raw = readFlexMap(post.customOptions!, 'detect.tflite');
  assert.equal(raw.num_classes, 90);
  assert.equal(raw._output_quantized, true);
  const o = readPostProcessOptions(m, post);
  assert.deepEqual(
    { ...o, nmsIouThreshold: +o.nmsIouThreshold.toFixed(6), nmsScoreThreshold: +o.nmsScoreThreshold.toExponential(3) },
    {
      yScale: 10,
      xScale: 10,
      hScale: 5,
      wScale: 5,
      nmsIouThreshold: 0.6,
      nmsScoreThreshold: 1e-8,
      maxDetections: 10,
      detectionsPerClass: 100,
      useRegularNms: false,
      numClasses: 90,
    },
  );
  const anchors = m.tensors[post.inputs[2]!]!;
  assert.deepEqual([anchors.name, anchors.type, anchors.shape], ['anchors', 'UINT8', [1917, 4]]);
});

test('a truncated file, a PNG and a JSON file are TfliteFormatErrors that name the file', () => {
  const coco = cocoBytes();
  assert.throws(
    () => parseTflite(coco.subarray(0, 1000), 'cut.tflite'),
    (e: unknown) =>
      e instanceof TfliteFormatError &&
      /^cut\.tflite: not a valid TFLite model: .*outside the file|past the end/.test(e.message),
  );
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82]);
  assert.throws(
    () => parseTflite(png, 'photo.png'),
    (e: unknown) =>
      e instanceof TfliteFormatError &&
      /photo\.png: .*file identifier is "\\r\\n\\u001a\\n", expected "TFL3"/.test(e.message),
  );
  const json = new TextEncoder().encode('{"format": "mobilessd-model", "version": 1}');
  assert.throws(
    () => parseTflite(json, 'model.json'),
    (e: unknown) => e instanceof TfliteFormatError && /model\.json: .*expected "TFL3"/.test(e.message),
  );
  assert.throws(
    () => parseTflite(new Uint8Array(3), 'tiny.tflite'),
    (e: unknown) => e instanceof TfliteFormatError && /only 3 bytes/.test(e.message),
  );
});

test('huge declared sizes and out-of-file offsets inside a real model are caught', () => {
  const base = cocoBytes();
  const fb = new FlatBuffer(base, 'x');
  const model = fb.root('model');
  const vtable = model.pos - fb.i32(model.pos, 'soffset');
  const fieldPos = (id: number) => model.pos + fb.u16(vtable + 4 + 2 * id, 'slot');
  const buffersVector = fieldPos(4) + fb.u32(fieldPos(4), 'buffers');
  for (const [what, patch, re] of [
    ['buffer count 2^31', (v: DataView) => v.setUint32(buffersVector, 0x7fffffff, true), /past the end of the file/],
    [
      'subgraphs offset outside the file',
      (v: DataView) => v.setUint32(fieldPos(2), 0xfffffff0, true),
      /outside the file/,
    ],
  ] as const) {
    const b = base.slice();
    patch(new DataView(b.buffer));
    assert.throws(
      () => parseTflite(b, 'patched.tflite'),
      (e: unknown) => e instanceof TfliteFormatError && e.message.startsWith('patched.tflite: ') && re.test(e.message),
      what,
    );
  }
});

test('mini-fuzz: truncations and bit flips of both real models only ever raise MobileSsdErrors', () => {
  let parsed = 0,
    rejected = 0;
  for (const [name, bytes] of [
    ['oid', oidBytes()],
    ['coco', cocoBytes()],
  ] as const) {
    const m = parseTflite(bytes, name);
    // Flips inside weight data only change numbers; aim most of them at the structure around them.
    const data = m.buffers
      .filter((b) => b.byteLength > 0)
      .map((b) => [b.byteOffset - bytes.byteOffset, b.byteOffset - bytes.byteOffset + b.byteLength] as const);
    const structural = (p: number) => !data.some(([s, e]) => p >= s && p < e);
    const r = seededInts(name === 'oid' ? 1234 : 5678);
    for (let i = 0; i < 150; i++) {
      let b: Uint8Array;
      if (i % 3 === 0) {
        b = bytes.subarray(0, r(bytes.byteLength));
      } else {
        b = bytes.slice();
        const flips = 1 + r(8);
        for (let k = 0; k < flips; k++) {
          let p = r(b.byteLength);
          for (let tries = 0; tries < 64 && !structural(p); tries++) p = r(b.byteLength);
          b[p]! ^= 1 << r(8);
        }
      }
      try {
        const got = parseTflite(b, `${name}-fuzz-${i}`);
        for (const op of got.operators) if (op.customOptions) readFlexMap(op.customOptions, name);
        parsed++;
      } catch (e) {
        assert.ok(e instanceof MobileSsdError, `${name} case ${i}: ${(e as Error).stack}`);
        rejected++;
      }
    }
  }
  assert.ok(parsed > 0 && rejected > 0, `both outcomes occur (parsed ${parsed}, rejected ${rejected})`);
});
