/**
 * resize: an NHWC tensor's H and W resized to `size`, bilinear or nearest, with TFLite's align_corners and
 * half_pixel_centers rules. TFLite RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR (the size a constant
 * input); ONNX Resize with the matching coordinate transformation. BlazeFace's full-range model
 * upsamples its coarse features with it before adding them to finer ones.
 */
import source from '../../shaders/resize.wgsl';
import type { Checker } from '../core/checker.ts';
import type { Clamp, OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { intersect, parseClamp } from './support/conv.ts';
import type { OptionsSchema } from './support/interchange.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import { ShapeError, type NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

export const RESIZE_MODES = ['bilinear', 'nearest'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

export interface ResizeNode extends NodeBase {
  op: 'resize';
  mode: ResizeMode;
  /** Output [H, W]. */
  size: [number, number];
  alignCorners: boolean;
  halfPixelCenters: boolean;
  /** A quantized output's range. */
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    resize: ResizeNode;
  }
}

export type ResizeRule = Pick<ResizeNode, 'mode' | 'alignCorners' | 'halfPixelCenters'>;

const ResizeParams = uniformSchema('Params', {
  count: 'u32',
  channels: 'u32',
  inH: 'u32',
  inW: 'u32',
  outH: 'u32',
  outW: 'u32',
  scaleY: 'f32',
  scaleX: 'f32',
  halfPixel: 'u32',
  alignCorners: 'u32',
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  clampMin: 'f32',
  clampMax: 'f32',
});

/** TFLite's scale, in float32. */
export function resizeScale(input: number, output: number, alignCorners: boolean): number {
  return alignCorners && output > 1 ? Math.fround((input - 1) / (output - 1)) : Math.fround(input / output);
}

export function resizePipeline(
  ctx: GpuContext,
  mode: ResizeMode,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`resize/${mode}/${storage}/wg${workgroupSize}`, () => ({
    label: `resize_${mode}`,
    code: withStorage(storage, ResizeParams.wgsl + source),
    entryPoint: `main_${mode}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

/** `x` is the input shape [N, H, W, C]. */
export function resizeDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  rule: ResizeRule,
  x: readonly number[],
  size: readonly [number, number],
  act: Clamp,
  b: { input: Binding; output: Binding },
  opts: { view?: OutputView; label?: string } = {},
): Dispatch {
  const [n, inH, inW, channels] = x as [number, number, number, number];
  const [outH, outW] = size;
  const count = n * outH * outW * channels;
  const view = opts.view ?? { base: 0, batchStride: outH * outW * channels, pixelStride: channels };
  const params = {
    count,
    channels,
    inH,
    inW,
    outH,
    outW,
    scaleY: resizeScale(inH, outH, rule.alignCorners),
    scaleX: resizeScale(inW, outW, rule.alignCorners),
    halfPixel: rule.halfPixelCenters ? 1 : 0,
    alignCorners: rule.alignCorners ? 1 : 0,
    outBase: view.base,
    outBatchStride: view.batchStride,
    outPixelStride: view.pixelStride,
    clampMin: act.min,
    clampMax: act.max,
  };
  const meta = {
    label: opts.label ?? `resize_${rule.mode}`,
    op: 'resize',
    flops: (rule.mode === 'bilinear' ? 12 : 2) * count,
    bytes: 4 * (product(x) + count),
  };
  return makeDispatch(
    ctx,
    pipe,
    ResizeParams,
    params,
    [b.input, b.output],
    { threads: count, workgroupSize: 64 },
    meta,
  );
}

/** Where output row/column v samples, in float32 as TFLite computes it. */
function sourcePosition(v: number, scale: number, halfPixel: boolean): number {
  return halfPixel ? Math.fround(Math.fround(Math.fround(v + 0.5) * scale) - 0.5) : Math.fround(v * scale);
}

function nearestIndex(v: number, scale: number, size: number, rule: ResizeRule): number {
  const s = Math.fround(Math.fround(v + (rule.halfPixelCenters ? 0.5 : 0)) * scale);
  const r = rule.alignCorners ? Math.floor(s + 0.5) : Math.floor(s);
  return Math.min(Math.max(r, 0), size - 1);
}

/** Plain-loop CPU reference (TFLite's reference kernels). */
export function resizeRef(
  x: Float32Array,
  shape: readonly number[],
  size: readonly [number, number],
  rule: ResizeRule,
  act: Clamp,
): Float32Array {
  const [n, h, w, c] = shape as [number, number, number, number];
  const [oh, ow] = size;
  const sy = resizeScale(h, oh, rule.alignCorners);
  const sx = resizeScale(w, ow, rule.alignCorners);
  const y = new Float32Array(n * oh * ow * c);
  const at = (b: number, iy: number, ix: number, ch: number) => x[((b * h + iy) * w + ix) * c + ch]!;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < c; ch++) {
          let v: number;
          if (rule.mode === 'nearest') {
            v = at(b, nearestIndex(oy, sy, h, rule), nearestIndex(ox, sx, w, rule), ch);
          } else {
            const fy = sourcePosition(oy, sy, rule.halfPixelCenters);
            const fx = sourcePosition(ox, sx, rule.halfPixelCenters);
            const [y0, x0] = [Math.max(Math.floor(fy), 0), Math.max(Math.floor(fx), 0)];
            const [y1, x1] = [Math.min(Math.ceil(fy), h - 1), Math.min(Math.ceil(fx), w - 1)];
            const [dy, dx] = [fy - y0, fx - x0];
            v =
              at(b, y0, x0, ch) * (1 - dy) * (1 - dx) +
              at(b, y1, x0, ch) * dy * (1 - dx) +
              at(b, y0, x1, ch) * (1 - dy) * dx +
              at(b, y1, x1, ch) * dy * dx;
          }
          y[((b * oh + oy) * ow + ox) * c + ch] = Math.min(Math.max(v, act.min), act.max);
        }
  return y;
}

class ResizeStep implements Step {
  readonly kind = 'resize';
  constructor(
    readonly name: string,
    readonly rule: ResizeRule,
    readonly x: number[],
    readonly size: [number, number],
    public act: Clamp,
    readonly input: string,
    public output: string,
    public view: OutputView,
  ) {}

  get variant(): string {
    return this.rule.mode;
  }
  reads(): string[] {
    return [this.input];
  }
  weights() {
    return [];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return resizePipeline(ctx, this.rule.mode, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = { input: io.tensor(this.input), output: io.tensor(this.output) };
    const o = { view: this.view, label: this.name };
    return resizeDispatch(ctx, pipe, this.rule, this.x, this.size, this.act, b, o);
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

function lower(n: ResizeNode, lc: LowerContext): void {
  const out = n.outputs[0]!;
  const x = lc.shape(n.inputs[0]!);
  lc.emit(new ResizeStep(n.name, n, x, n.size, n.activation, n.inputs[0]!, out, lc.defaultView(out)));
}

const BILINEAR_OPTIONS = {
  table: 'ResizeBilinearOptions',
  type: 15,
  fields: { alignCorners: [2, 'bool'], halfPixelCenters: [3, 'bool'] },
} as const satisfies OptionsSchema;
const NEAREST_OPTIONS = {
  table: 'ResizeNearestNeighborOptions',
  type: 74,
  fields: { alignCorners: [0, 'bool'], halfPixelCenters: [1, 'bool'] },
} as const satisfies OptionsSchema;

function bool(c: Checker, v: unknown, what: string): boolean {
  return typeof v === 'boolean' ? v : c.fail(`${what} must be true or false`);
}

/** ONNX Resize's coordinate rule for TFLite's flags. */
function onnxCoordinates(n: ResizeNode): { name: string; s: string }[] {
  const transform = n.alignCorners
    ? 'align_corners'
    : n.halfPixelCenters
      ? n.mode === 'nearest'
        ? 'tf_half_pixel_for_nn'
        : 'half_pixel'
      : 'asymmetric';
  const attrs = [
    { name: 'mode', s: n.mode === 'bilinear' ? 'linear' : 'nearest' },
    { name: 'coordinate_transformation_mode', s: transform },
  ];
  if (n.mode === 'nearest') attrs.push({ name: 'nearest_mode', s: n.alignCorners ? 'round_prefer_ceil' : 'floor' });
  return attrs;
}

export const op: OpDef<ResizeNode> = {
  op: 'resize',
  arity: 1,
  parse(raw, base, c, what) {
    const mode =
      RESIZE_MODES.find((m) => m === raw.mode) ?? c.fail(`${what}: mode ${JSON.stringify(raw.mode)} is unknown`);
    const size = c.arr(raw.size, `${what} size`).map((d, i) => c.int(d, `${what} size[${i}]`, 1));
    if (size.length !== 2) c.fail(`${what} size must have 2 entries`);
    return {
      op: 'resize',
      ...base,
      mode,
      size: [size[0]!, size[1]!],
      alignCorners: bool(c, raw.alignCorners, `${what} alignCorners`),
      halfPixelCenters: bool(c, raw.halfPixelCenters, `${what} halfPixelCenters`),
      activation: parseClamp(c, raw.activation, what),
    };
  },
  outputShape(n, [x]) {
    if (x!.length !== 4) throw new ShapeError(`input has shape [${x}], expected NHWC`);
    return [x![0]!, n.size[0], n.size[1], x![3]!];
  },
  reference: (n, [x], cx) => resizeRef(x!, cx.shape(n.inputs[0]!), n.size, n, n.activation),
  cost: (n, [x]) => ({ params: 0, macs: 0, bytes: 4 * (product(x!) + x![0]! * n.size[0] * n.size[1] * x![3]!) }),
  lower,
  onnx(n, b) {
    const x = b.shape(n.inputs[0]!);
    const sizes = b.constant(`${n.name}/sizes`, [4], () => BigInt64Array.from([1, x[3]!, ...n.size], BigInt));
    // Batch 1 in `sizes` would pin the batch: scales would not, but they lose TFLite's exact output size.
    const input = b.value(n.inputs[0]!);
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
      b.node({
        name: n.name,
        opType: 'Resize',
        inputs: [input, '', '', sizes],
        outputs: [target],
        attributes: onnxCoordinates(n),
      }),
    );
  },
  tflite: {
    builtins: ['RESIZE_BILINEAR', 'RESIZE_NEAREST_NEIGHBOR'],
    convert(op, cx) {
      const bilinear = op.name === 'RESIZE_BILINEAR';
      const o = cx.options(op, bilinear ? BILINEAR_OPTIONS : NEAREST_OPTIONS);
      if (o.alignCorners && o.halfPixelCenters) cx.fail(op, 'sets both align_corners and half_pixel_centers');
      const xs = cx.inputShape(op, 0);
      if (xs.length !== 4) cx.unsupported(op, `resizing a tensor of rank ${xs.length} (only NHWC)`);
      const size = cx.values(op, 1);
      if (!size || size.length !== 2 || !(size[0]! >= 1 && size[1]! >= 1))
        return cx.unsupported(op, 'a size that is not a constant [height, width]');
      const out = cx.output(op);
      return {
        op: 'resize',
        name: out,
        inputs: [cx.activation(op, 0)],
        outputs: [out],
        mode: bilinear ? 'bilinear' : 'nearest',
        size: [size[0]!, size[1]!],
        alignCorners: o.alignCorners,
        halfPixelCenters: o.halfPixelCenters,
        activation: cx.clamp(op, 'NONE'),
      };
    },
  },
};
