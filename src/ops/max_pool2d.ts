/**
 * max_pool2d: the maximum over KH x KW windows of each channel, with TensorFlow's SAME/VALID padding
 * (padded taps take no part) and a fused clamp. BlazeFace and SSD-MobileNetV1-FPN downsample with it.
 * TFLite MAX_POOL_2D; ONNX MaxPool. Its kernel (shaders/max_pool2d.wgsl) writes through an output
 * view, so a pool can fill its slice of a concatenation in place.
 */
import common from '../../shaders/conv_common.wgsl';
import source from '../../shaders/max_pool2d.wgsl';
import type { Checker } from '../core/checker.ts';
import { contiguousView, convGeometry, type Clamp, type ConvGeometry, type OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { ConvParams, convParams } from '../kernels/conv_params.ts';
import { intersect, parseClamp } from './support/conv.ts';
import type { OptionsSchema } from './support/interchange.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import { ShapeError, type NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

export interface MaxPool2dNode extends NodeBase {
  op: 'max_pool2d';
  /** Window [KH, KW]. */
  window: [number, number];
  strides: [number, number];
  padding: 'SAME' | 'VALID';
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    max_pool2d: MaxPool2dNode;
  }
}

export const MAX_POOL_VARIANTS = ['naive', 'vec4'] as const;
export type MaxPoolVariant = (typeof MAX_POOL_VARIANTS)[number];

export function maxPoolVariantSupported(g: ConvGeometry, v: MaxPoolVariant): boolean {
  return v === 'naive' || g.inC % 4 === 0;
}

export function maxPoolPipeline(
  ctx: GpuContext,
  variant: MaxPoolVariant,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`max_pool2d/${variant}/${storage}/wg${workgroupSize}`, () => ({
    label: `max_pool2d_${variant}`,
    code: withStorage(storage, ConvParams.wgsl + common + source),
    entryPoint: `main_${variant}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

/** `x` and `y` are bound as vec4 arrays: sizes rounded up to 16 bytes. */
export function maxPoolDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: MaxPoolVariant,
  g: ConvGeometry,
  act: Clamp,
  b: { input: Binding; output: Binding },
  opts: { view?: OutputView; label?: string } = {},
): Dispatch {
  if (!maxPoolVariantSupported(g, variant))
    throw new RangeError(`max_pool2d variant ${variant} needs channels divisible by 4 (got ${g.inC})`);
  const view = opts.view ?? contiguousView(g.outH, g.outW, g.outC);
  const outputs = g.batch * g.outH * g.outW * g.outC;
  const threads = variant === 'naive' ? outputs : outputs / 4;
  const bytes = 4 * (g.batch * g.inH * g.inW * g.inC + outputs);
  const meta = { label: opts.label ?? `max_pool2d_${variant}`, op: 'max_pool2d', flops: outputs * g.kH * g.kW, bytes };
  return makeDispatch(
    ctx,
    pipe,
    ConvParams,
    convParams(g, act, view),
    [b.input, b.output],
    { threads, workgroupSize: 64 },
    meta,
  );
}

/** Plain-loop CPU reference. */
export function maxPool2dRef(g: ConvGeometry, x: Float32Array, act: Clamp): Float32Array {
  const y = new Float32Array(g.batch * g.outH * g.outW * g.outC);
  for (let b = 0; b < g.batch; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let c = 0; c < g.outC; c++) {
          let m = -Infinity;
          for (let ky = 0; ky < g.kH; ky++) {
            const iy = oy * g.strideH + ky - g.padTop;
            if (iy < 0 || iy >= g.inH) continue;
            for (let kx = 0; kx < g.kW; kx++) {
              const ix = ox * g.strideW + kx - g.padLeft;
              if (ix >= 0 && ix < g.inW) m = Math.max(m, x[((b * g.inH + iy) * g.inW + ix) * g.inC + c]!);
            }
          }
          y[((b * g.outH + oy) * g.outW + ox) * g.outC + c] = Math.min(Math.max(m, act.min), act.max);
        }
  return y;
}

/** The pool's geometry at the batch the input shape carries; ShapeError when the window does not fit. */
export function poolGeometry(
  n: Pick<MaxPool2dNode, 'window' | 'strides' | 'padding'>,
  x: readonly number[],
): ConvGeometry {
  if (x.length !== 4) throw new ShapeError(`input has shape [${x}], expected NHWC`);
  const [kH, kW] = n.window;
  const [strideH, strideW] = n.strides;
  try {
    return convGeometry({
      batch: x[0]!,
      inH: x[1]!,
      inW: x[2]!,
      inC: x[3]!,
      outC: x[3]!,
      kH,
      kW,
      strideH,
      strideW,
      padding: n.padding,
    });
  } catch (e) {
    throw new ShapeError((e as Error).message);
  }
}

class MaxPoolStep implements Step {
  readonly kind = 'max_pool2d';
  constructor(
    readonly name: string,
    readonly variant: MaxPoolVariant,
    readonly g: ConvGeometry,
    public act: Clamp,
    readonly input: string,
    public output: string,
    public view: OutputView,
  ) {}

  reads(): string[] {
    return [this.input];
  }
  weights() {
    return [];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return maxPoolPipeline(ctx, this.variant, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = { input: io.tensor(this.input), output: io.tensor(this.output) };
    return maxPoolDispatch(ctx, pipe, this.variant, this.g, this.act, b, { view: this.view, label: this.name });
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

function lower(n: MaxPool2dNode, lc: LowerContext): void {
  const g = poolGeometry(n, lc.shape(n.inputs[0]!));
  const forced = lc.force.max_pool2d as MaxPoolVariant | undefined;
  const known = forced !== undefined && MAX_POOL_VARIANTS.includes(forced) && maxPoolVariantSupported(g, forced);
  const variant = known ? forced : maxPoolVariantSupported(g, 'vec4') ? 'vec4' : 'naive';
  const out = n.outputs[0]!;
  lc.emit(new MaxPoolStep(n.name, variant, g, n.activation, n.inputs[0]!, out, lc.defaultView(out)));
}

export const POOL_OPTIONS = {
  table: 'Pool2DOptions',
  type: 5,
  fields: {
    padding: [0, 'padding'],
    strideW: [1, 'i32'],
    strideH: [2, 'i32'],
    filterW: [3, 'i32'],
    filterH: [4, 'i32'],
    activation: [5, 'activation'],
  },
} as const satisfies OptionsSchema;

export function pair(c: Checker, v: unknown, what: string): [number, number] {
  const a = c.arr(v, what).map((d, i) => c.int(d, `${what}[${i}]`, 1));
  if (a.length !== 2) c.fail(`${what} must have 2 entries`);
  return [a[0]!, a[1]!];
}

export const op: OpDef<MaxPool2dNode> = {
  op: 'max_pool2d',
  arity: 1,
  parse(raw, base, c, what) {
    const padding =
      raw.padding === 'SAME' || raw.padding === 'VALID'
        ? raw.padding
        : c.fail(`${what}: padding ${JSON.stringify(raw.padding)} is unknown`);
    const window = pair(c, raw.window, `${what} window`);
    return {
      op: 'max_pool2d',
      ...base,
      window,
      strides: pair(c, raw.strides, `${what} strides`),
      padding,
      activation: parseClamp(c, raw.activation, what),
    };
  },
  outputShape(n, [x]) {
    const g = poolGeometry(n, x!);
    return [x![0]!, g.outH, g.outW, g.outC];
  },
  reference: (n, [x], cx) => maxPool2dRef(poolGeometry(n, cx.shape(n.inputs[0]!)), x!, n.activation),
  cost(n, [x]) {
    const g = poolGeometry(n, x!);
    return { params: 0, macs: 0, bytes: 4 * (product(x!) + g.outH * g.outW * g.outC) };
  },
  lower,
  onnx(n, b) {
    const g = poolGeometry(n, b.shape(n.inputs[0]!));
    const attributes = [
      { name: 'kernel_shape', ints: [...n.window] },
      { name: 'strides', ints: [...n.strides] },
      { name: 'pads', ints: [g.padTop, g.padLeft, g.padBottom, g.padRight] },
    ];
    const input = b.value(n.inputs[0]!);
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
      b.node({ name: n.name, opType: 'MaxPool', inputs: [input], outputs: [target], attributes }),
    );
  },
  tflite: {
    builtins: ['MAX_POOL_2D'],
    convert(op, cx) {
      const o = cx.options(op, POOL_OPTIONS);
      if (!(o.filterH >= 1 && o.filterW >= 1 && o.strideH >= 1 && o.strideW >= 1))
        cx.fail(op, `has a ${o.filterH}x${o.filterW} window with stride ${o.strideH}x${o.strideW}`);
      const out = cx.output(op);
      const [window, strides]: [number, number][] = [
        [o.filterH, o.filterW],
        [o.strideH, o.strideW],
      ];
      return {
        op: 'max_pool2d',
        name: out,
        inputs: [cx.activation(op, 0)],
        outputs: [out],
        window: window!,
        strides: strides!,
        padding: o.padding,
        activation: cx.clamp(op, o.activation),
      };
    },
  },
};
