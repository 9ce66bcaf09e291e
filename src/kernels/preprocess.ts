/**
 * GPU preprocessing: an RGBA8 texture -> the model's float NHWC input, written into batch slot
 * `slot` of the input tensor; or, for a model run in integers, its 8-bit input packed four to a word
 * (the resized pixel rounded, as TFLite apps feed uint8 models). The CPU twin is preprocess_ref.ts.
 */
import source from '../../shaders/preprocess.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import type { PreprocessSpec } from '../core/model_spec.ts';
import { makeDispatch, type Dispatch } from '../gpu/dispatch.ts';
import { placement, type Placement } from '../image/placement.ts';
import { withStorage } from './storage.ts';

export const PreprocessParams = uniformSchema('Params', {
  dstW: 'u32',
  dstH: 'u32',
  canvasW: 'u32',
  canvasH: 'u32',
  x0: 'i32',
  y0: 'i32',
  imgW: 'u32',
  imgH: 'u32',
  halfPixel: 'u32',
  mean: 'f32',
  stdDev: 'f32',
  outBase: 'u32',
  qOffset: 'i32',
});

/**
 * The network input's form: float in the graph's storage type (f32 or f16), or 8-bit (uint8: the pixel; int8: the
 * pixel - 128) packed in words.
 */
export type PreprocessOutput = 'f32' | 'f16' | 'uint8' | 'int8';

export function preprocessPipeline(
  ctx: GpuContext,
  output: PreprocessOutput = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  const quantized = output !== 'f32' && output !== 'f16';
  const storage = output === 'f16' ? 'f16' : 'f32';
  return ctx.pipeline(`preprocess/rgba8/${quantized ? 'q8' : storage}/wg${workgroupSize}`, () => ({
    label: quantized ? 'preprocess_quantized' : 'preprocess',
    code: withStorage(storage, PreprocessParams.wgsl + source),
    entryPoint: quantized ? 'main_quantized' : 'main',
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'texture', 'rw'],
  }));
}

export function preprocessValues(
  spec: PreprocessSpec,
  width: number,
  height: number,
  slot: number,
  output: PreprocessOutput = 'f32',
): { params: ReturnType<typeof valuesOf>; placement: Placement } {
  const pl = placement(spec, width, height);
  return { params: valuesOf(spec, pl, width, height, slot, output), placement: pl };
}

function valuesOf(
  spec: PreprocessSpec,
  pl: Placement,
  width: number,
  height: number,
  slot: number,
  output: PreprocessOutput,
) {
  const perImage = spec.width * spec.height * 3;
  return {
    dstW: spec.width,
    dstH: spec.height,
    canvasW: pl.canvasW,
    canvasH: pl.canvasH,
    x0: pl.x0,
    y0: pl.y0,
    imgW: width,
    imgH: height,
    halfPixel: spec.halfPixelCenters ? 1 : 0,
    mean: spec.mean,
    stdDev: spec.std,
    outBase: slot * perImage,
    qOffset: output === 'int8' ? -128 : 0,
  };
}

/**
 * A preprocessing dispatch bound to `texture` and the input tensor. Its uniforms live in their own
 * small buffer; `update` rewrites them when the frame size changes (an upload, not a re-record).
 */
export interface PreprocessStage {
  dispatch: Dispatch;
  uniform: GPUBuffer;
  update(width: number, height: number): Placement;
}

export function preprocessStage(
  ctx: GpuContext,
  pipe: CachedPipeline,
  spec: PreprocessSpec,
  texture: GPUTextureView,
  output: GPUBufferBinding,
  slot: number,
  initial: { width: number; height: number },
  out: PreprocessOutput = 'f32',
): PreprocessStage {
  const values = spec.width * spec.height * 3;
  const float = out === 'f32' || out === 'f16';
  const den = (side: number) => (spec.halfPixelCenters ? 2 * side : side);
  if (!float && 255 * den(spec.width) * den(spec.height) >= 2 ** 32)
    throw new RangeError(`an 8-bit ${spec.width}x${spec.height} input is too large for the integer resize`);
  if (!float && slot > 0 && values % 4 !== 0)
    throw new RangeError(
      `an 8-bit ${spec.width}x${spec.height} input is not whole u32 words: run such a model in batches of 1`,
    );
  const first = preprocessValues(spec, initial.width, initial.height, slot, out);
  const dispatch = makeDispatch(
    ctx,
    pipe,
    PreprocessParams,
    first.params,
    [texture, output],
    { threads: float ? spec.width * spec.height : Math.ceil(values / 4), workgroupSize: 64 },
    {
      label: `preprocess[${slot}]`,
      op: 'preprocess',
      flops: spec.width * spec.height * 3 * 8,
      bytes: spec.width * spec.height * 16 + values * (out === 'f32' ? 4 : out === 'f16' ? 2 : 1),
    },
  );
  const uniform = dispatch.owned[0]!;
  return {
    dispatch,
    uniform,
    update(width, height) {
      const v = preprocessValues(spec, width, height, slot, out);
      ctx.queue.writeBuffer(uniform, 0, PreprocessParams.pack(v.params));
      return v.placement;
    },
  };
}
