/**
 * GPU preprocessing: an RGBA8 texture -> the model's float NHWC input, written into batch slot
 * `slot` of the input tensor. The CPU twin is preprocess_ref.ts.
 */
import source from '../../shaders/preprocess.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import type { PreprocessSpec } from '../core/model_spec.ts';
import { makeDispatch, type Dispatch } from '../gpu/dispatch.ts';
import { placement, type Placement } from '../image/placement.ts';

export const PreprocessParams = uniformSchema('Params', {
  dstW: 'u32',
  dstH: 'u32',
  canvasW: 'u32',
  canvasH: 'u32',
  x0: 'i32',
  y0: 'i32',
  imgW: 'u32',
  imgH: 'u32',
  scaleX: 'f32',
  scaleY: 'f32',
  halfPixel: 'u32',
  mean: 'f32',
  stdDev: 'f32',
  outBase: 'u32',
});

export function preprocessPipeline(ctx: GpuContext, workgroupSize = 64): Promise<CachedPipeline> {
  return ctx.pipeline(`preprocess/rgba8/f32/wg${workgroupSize}`, () => ({
    label: 'preprocess',
    code: PreprocessParams.wgsl + source,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'texture', 'rw'],
  }));
}

export function preprocessValues(
  spec: PreprocessSpec,
  width: number,
  height: number,
  slot: number,
): { params: ReturnType<typeof valuesOf>; placement: Placement } {
  const pl = placement(spec, width, height);
  return { params: valuesOf(spec, pl, width, height, slot), placement: pl };
}

function valuesOf(spec: PreprocessSpec, pl: Placement, width: number, height: number, slot: number) {
  return {
    dstW: spec.width,
    dstH: spec.height,
    canvasW: pl.canvasW,
    canvasH: pl.canvasH,
    x0: pl.x0,
    y0: pl.y0,
    imgW: width,
    imgH: height,
    scaleX: pl.canvasW / spec.width,
    scaleY: pl.canvasH / spec.height,
    halfPixel: spec.halfPixelCenters ? 1 : 0,
    mean: spec.mean,
    stdDev: spec.std,
    outBase: slot * spec.width * spec.height * 3,
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
): PreprocessStage {
  const first = preprocessValues(spec, initial.width, initial.height, slot);
  const dispatch = makeDispatch(
    ctx,
    pipe,
    PreprocessParams,
    first.params,
    [texture, output],
    { threads: spec.width * spec.height, workgroupSize: 64 },
    {
      label: `preprocess[${slot}]`,
      op: 'preprocess',
      flops: spec.width * spec.height * 3 * 8,
      bytes: spec.width * spec.height * (16 + 12),
    },
  );
  const uniform = dispatch.owned[0]!;
  return {
    dispatch,
    uniform,
    update(width, height) {
      const v = preprocessValues(spec, width, height, slot);
      ctx.queue.writeBuffer(uniform, 0, PreprocessParams.pack(v.params));
      return v.placement;
    },
  };
}
