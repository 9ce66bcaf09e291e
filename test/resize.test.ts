/**
 * resize: bilinear and nearest kernels against the plain-loop reference (TFLite's reference kernels)
 * over a grid of sizes up and down with every align_corners / half_pixel_centers rule, and TFLite
 * RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR on flatbuffers written here, run on the GPU, the CPU
 * reference and ONNX Runtime's Resize.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS } from '../src/core/geometry.ts';
import { product } from '../src/core/shape.ts';
import {
  RESIZE_MODES,
  resizeDispatch,
  resizePipeline,
  resizeRef,
  type ResizeNode,
  type ResizeRule,
} from '../src/ops/resize.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';
import { i32Bytes, IMAGE, runConverted, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

after(releaseGpu);

const RULES = [
  { alignCorners: false, halfPixelCenters: false },
  { alignCorners: true, halfPixelCenters: false },
  { alignCorners: false, halfPixelCenters: true },
];
const CASES: { x: number[]; size: [number, number] }[] = [
  { x: [1, 1, 1, 3], size: [3, 2] },
  { x: [1, 4, 4, 8], size: [8, 8] },
  { x: [1, 5, 3, 13], size: [10, 6] },
  { x: [2, 7, 9, 4], size: [3, 4] },
  { x: [1, 16, 16, 3], size: [11, 23] },
  { x: [1, 6, 6, 96], size: [12, 12] },
  { x: [1, 3, 8, 1], size: [1, 1] },
];

for (const mode of RESIZE_MODES)
  for (const r of RULES)
    for (const { x, size } of CASES) {
      const rule: ResizeRule = { mode, ...r };
      const flags = `${r.alignCorners ? 'align_corners' : ''}${r.halfPixelCenters ? 'half_pixel' : ''}` || 'plain';
      test(`resize ${mode} ${flags} [${x}] -> ${size[0]}x${size[1]}`, async () => {
        const ctx = await gpu();
        const input = randomFloats(product(x), product(x), -8, 8);
        const ref = resizeRef(input, x, size, rule, ACTIVATIONS.none);
        const bx = storage(ctx, input);
        const out = output(ctx, ref.length);
        const b = { input: { buffer: bx }, output: { buffer: out } };
        await run(ctx, [resizeDispatch(ctx, await resizePipeline(ctx, mode), rule, x, size, ACTIVATIONS.none, b)]);
        // Nearest copies (exact); bilinear blends 4 values of up to 8 with float32 weights.
        const [atol, rtol] = mode === 'nearest' ? [0, 0] : [4e-6, 1e-6];
        assertClose(await readF32(ctx, out, ref.length), ref, atol, rtol);
        for (const buf of [bx, out]) buf.destroy();
      });
    }

test('the reference: 2x bilinear upsampling with half-pixel centres blends 3:1, align_corners keeps the ends', () => {
  const x = Float32Array.of(0, 4);
  const half = resizeRef(
    x,
    [1, 1, 2, 1],
    [1, 4],
    { mode: 'bilinear', alignCorners: false, halfPixelCenters: true },
    ACTIVATIONS.none,
  );
  assert.deepEqual([...half], [0, 1, 3, 4]);
  const align = resizeRef(
    x,
    [1, 1, 2, 1],
    [1, 3],
    { mode: 'bilinear', alignCorners: true, halfPixelCenters: false },
    ACTIVATIONS.none,
  );
  assert.deepEqual([...align], [0, 2, 4]);
  const nearest = resizeRef(
    x,
    [1, 1, 2, 1],
    [1, 4],
    { mode: 'nearest', alignCorners: false, halfPixelCenters: false },
    ACTIVATIONS.none,
  );
  assert.deepEqual([...nearest], [0, 0, 4, 4]);
});

/** RESIZE_BILINEAR 16x16 -> 22x8, then RESIZE_NEAREST_NEIGHBOR 22x8 -> 11x4 (a 2:1 ratio, so no rounding tie). */
function resizeTflite(bilinear: [boolean, boolean], nearest: [boolean, boolean]): Uint8Array {
  return ssdTflite({
    builtins: ['RESIZE_BILINEAR', 'RESIZE_NEAREST_NEIGHBOR'],
    tensors: [
      IMAGE,
      { shape: [2], name: 'size', type: 2, buffer: 1 },
      { shape: [1, 22, 8, 3], name: 'bilinear' },
      { shape: [2], name: 'size2', type: 2, buffer: 2 },
      { shape: [1, 11, 4, 3], name: 'nearest' },
    ],
    operators: [
      {
        opcode: 0,
        inputs: [0, 1],
        outputs: [2],
        options: { type: 15, fields: [fb.i32(0), fb.i32(0), fb.u8(+bilinear[0]), fb.u8(+bilinear[1])] },
      },
      {
        opcode: 1,
        inputs: [2, 3],
        outputs: [4],
        options: { type: 74, fields: [fb.u8(+nearest[0]), fb.u8(+nearest[1])] },
      },
    ],
    buffers: [i32Bytes([22, 8]), i32Bytes([11, 4])],
  });
}

for (const [bilinear, nearest] of [
  [
    [false, true],
    [false, false],
  ],
  [
    [true, false],
    [false, true],
  ],
  [
    [false, false],
    [true, false],
  ],
] as [boolean, boolean][][])
  test(`TFLite resizes (bilinear align/half ${bilinear}, nearest ${nearest}) run alike on the GPU, the CPU reference and ONNX Runtime`, async () => {
    // ONNX Runtime maps a pixel back as x / (out/in), TFLite as x * float32(in/out): the source
    // coordinate (up to 16) differs by an ulp, 1e-6, times neighbours up to 16 apart.
    const tolerance = { atol: 4e-6, rtol: 2e-6, onnxAtol: 3e-5 };
    const r = await runConverted(resizeTflite(bilinear!, nearest!), tolerance);
    const nodes = r.model.json.nodes.filter((n): n is ResizeNode => n.op === 'resize');
    assert.deepEqual(
      nodes.map((n) => [n.mode, n.size, n.alignCorners, n.halfPixelCenters]),
      [
        ['bilinear', [22, 8], ...bilinear!],
        ['nearest', [11, 4], ...nearest!],
      ],
    );
    assert.deepEqual(r.steps, ['resize', 'resize']);
  });
