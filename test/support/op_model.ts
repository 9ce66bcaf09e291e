/**
 * Converter tests for single ops: a TFLite flatbuffer whose graph maps a 16x16 RGB image to one tensor of
 * 132 values, which two RESHAPEs turn into the 33 box encodings and 33 x 4 class logits of the SSD anchor
 * layout of a 16x16 input (every feature map 1x1: 3 + 5 * 6 anchors). The converted model is run on the
 * GPU, on the CPU reference and in ONNX Runtime (an independent implementation of each op).
 */
import * as ort from 'onnxruntime-node';
import { builtinCode } from '../../src/convert/tflite.ts';
import { convertTflite } from '../../src/convert/tflite_to_ir.ts';
import { GraphExecutor, packModelWeights } from '../../src/graph/executor.ts';
import { parseModel, serializeModel } from '../../src/graph/model_format.ts';
import { modelToOnnx } from '../../src/graph/onnx_export.ts';
import { runRawOutputs } from '../../src/graph/raw.ts';
import { runReference } from '../../src/graph/reference.ts';
import type { LoadedModel } from '../../src/graph/weights.ts';
import type { VariantChoice } from '../../src/ops/support/lowering.ts';
import { assertClose, gpu, randomFloats } from './gpu.ts';
import { writeTflite, type OperatorSpec, type TensorSpec } from './tflite_writer.ts';

export const IMAGE: TensorSpec = { shape: [1, 16, 16, 3], name: 'image' };
export const SSD_VALUES = 132;

export const f32Bytes = (v: ArrayLike<number>): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
export const i32Bytes = (v: ArrayLike<number>): Uint8Array => new Uint8Array(Int32Array.from(v).buffer);

/**
 * Tensor 0 is the image, the last tensor holds the 132 values; `builtins` by name, operators' opcode
 * index into them. Buffers are numbered from 1 (buffer 0 is the empty one).
 */
export function ssdTflite(m: {
  builtins: string[];
  tensors: TensorSpec[];
  operators: OperatorSpec[];
  buffers?: Uint8Array[];
}): Uint8Array {
  const last = m.tensors.length - 1;
  const reshape = m.builtins.length;
  const options = { type: 17, fields: [] };
  return writeTflite({
    builtins: [...m.builtins, 'RESHAPE'].map(builtinCode),
    tensors: [
      ...m.tensors,
      { shape: [1, 33, 4], name: 'raw_outputs/box_encodings' },
      { shape: [1, 33, 4], name: 'raw_outputs/class_predictions' },
    ],
    operators: [
      ...m.operators,
      { opcode: reshape, inputs: [last], outputs: [last + 1], options },
      { opcode: reshape, inputs: [last], outputs: [last + 2], options },
    ],
    inputs: [0],
    outputs: [last + 1, last + 2],
    ...(m.buffers ? { buffers: m.buffers } : {}),
  });
}

export interface ConvertedRun {
  model: LoadedModel;
  input: Float32Array;
  /** The 132 values, from the CPU reference and the GPU. */
  ref: Float32Array;
  gpu: Float32Array;
  /** Kinds of the GPU steps the network lowered to. */
  steps: string[];
}

/**
 * Converts `bytes` (through model.json and back), runs the model on a random image in [lo, hi) on the GPU,
 * the CPU reference and ONNX Runtime, and asserts the three agree within `atol + rtol*|ref|`.
 */
export async function runConverted(
  bytes: Uint8Array,
  o: { atol: number; rtol: number; lo?: number; hi?: number; force?: VariantChoice; onnxAtol?: number },
): Promise<ConvertedRun> {
  const converted = await convertTflite(bytes, { file: 'op.tflite', name: 'op' });
  const { json, weights } = serializeModel(converted);
  const model = await parseModel(json, weights, 'op/model.json');
  const input = randomFloats(16 * 16 * 3, 11, o.lo ?? -4, o.hi ?? 4);
  const boxes = model.json.outputs.boxes;
  const ref = runReference(model, input).get(boxes)!;

  const ctx = await gpu();
  const packed = packModelWeights(ctx, model);
  const ex = await GraphExecutor.create(ctx, model, packed, 1, o.force ?? {});
  const steps = ex.stats.steps.map((s) => s.kind);
  const got = (await runRawOutputs(ctx, ex, input)).get(boxes)!;
  ex.destroy();
  packed.buffer?.destroy();
  assertClose(got, ref, o.atol, o.rtol, 'GPU');

  const session = await ort.InferenceSession.create(modelToOnnx(model), { executionProviders: ['cpu'] });
  try {
    const onnx = await session.run({ [model.json.input]: new ort.Tensor('float32', input, [1, 16, 16, 3]) });
    assertClose(onnx[boxes]!.data as Float32Array, ref, o.onnxAtol ?? o.atol, o.rtol, 'ONNX Runtime');
  } finally {
    await session.release();
  }
  return { model, input, ref, gpu: got, steps };
}
