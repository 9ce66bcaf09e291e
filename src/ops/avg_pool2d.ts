/**
 * avg_pool2d: the mean over KH x KW windows of each channel, with TensorFlow's SAME/VALID padding (the
 * mean of the real taps: padded ones neither add nor count) and a fused clamp. TFLite AVERAGE_POOL_2D;
 * ONNX AveragePool (count_include_pad 0). Writes through an output view like max_pool2d, whose geometry
 * and options schema it shares.
 */
import common from '../../shaders/conv_common.wgsl';
import source from '../../shaders/avg_pool2d.wgsl';
import { contiguousView, type Clamp, type ConvGeometry, type OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { ConvParams, convParams } from '../kernels/conv_params.ts';
import { pair, poolGeometry, POOL_OPTIONS } from './max_pool2d.ts';
import { intersect, parseClamp } from './support/conv.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import type { NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

export interface AvgPool2dNode extends NodeBase {
  op: 'avg_pool2d';
  /** Window [KH, KW]. */
  window: [number, number];
  strides: [number, number];
  padding: 'SAME' | 'VALID';
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    avg_pool2d: AvgPool2dNode;
  }
}

export const AVG_POOL_VARIANTS = ['naive', 'vec4'] as const;
export type AvgPoolVariant = (typeof AVG_POOL_VARIANTS)[number];

export function avgPoolVariantSupported(g: ConvGeometry, v: AvgPoolVariant): boolean {
  return v === 'naive' || g.inC % 4 === 0;
}

export function avgPoolPipeline(
  ctx: GpuContext,
  variant: AvgPoolVariant,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`avg_pool2d/${variant}/${storage}/wg${workgroupSize}`, () => ({
    label: `avg_pool2d_${variant}`,
    code: withStorage(storage, ConvParams.wgsl + common + source),
    entryPoint: `main_${variant}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

/** `x` and `y` are bound as vec4 arrays: sizes rounded up to 16 bytes. */
export function avgPoolDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: AvgPoolVariant,
  g: ConvGeometry,
  act: Clamp,
  b: { input: Binding; output: Binding },
  opts: { view?: OutputView; label?: string } = {},
): Dispatch {
  if (!avgPoolVariantSupported(g, variant))
    throw new RangeError(`avg_pool2d variant ${variant} needs channels divisible by 4 (got ${g.inC})`);
  const view = opts.view ?? contiguousView(g.outH, g.outW, g.outC);
  const outputs = g.batch * g.outH * g.outW * g.outC;
  const threads = variant === 'naive' ? outputs : outputs / 4;
  const bytes = 4 * (g.batch * g.inH * g.inW * g.inC + outputs);
  const meta = {
    label: opts.label ?? `avg_pool2d_${variant}`,
    op: 'avg_pool2d',
    flops: outputs * (g.kH * g.kW + 1),
    bytes,
  };
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
export function avgPool2dRef(g: ConvGeometry, x: Float32Array, act: Clamp): Float32Array {
  const y = new Float32Array(g.batch * g.outH * g.outW * g.outC);
  for (let b = 0; b < g.batch; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let c = 0; c < g.outC; c++) {
          let sum = 0;
          let taps = 0;
          for (let ky = 0; ky < g.kH; ky++) {
            const iy = oy * g.strideH + ky - g.padTop;
            if (iy < 0 || iy >= g.inH) continue;
            for (let kx = 0; kx < g.kW; kx++) {
              const ix = ox * g.strideW + kx - g.padLeft;
              if (ix < 0 || ix >= g.inW) continue;
              sum += x[((b * g.inH + iy) * g.inW + ix) * g.inC + c]!;
              taps++;
            }
          }
          y[((b * g.outH + oy) * g.outW + ox) * g.outC + c] = Math.min(Math.max(sum / taps, act.min), act.max);
        }
  return y;
}

class AvgPoolStep implements Step {
  readonly kind = 'avg_pool2d';
  constructor(
    readonly name: string,
    readonly variant: AvgPoolVariant,
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
    return avgPoolPipeline(ctx, this.variant, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = { input: io.tensor(this.input), output: io.tensor(this.output) };
    return avgPoolDispatch(ctx, pipe, this.variant, this.g, this.act, b, { view: this.view, label: this.name });
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

function lower(n: AvgPool2dNode, lc: LowerContext): void {
  const g = poolGeometry(n, lc.shape(n.inputs[0]!));
  const forced = lc.force.avg_pool2d as AvgPoolVariant | undefined;
  const known = forced !== undefined && AVG_POOL_VARIANTS.includes(forced) && avgPoolVariantSupported(g, forced);
  const variant = known ? forced : avgPoolVariantSupported(g, 'vec4') ? 'vec4' : 'naive';
  const out = n.outputs[0]!;
  lc.emit(new AvgPoolStep(n.name, variant, g, n.activation, n.inputs[0]!, out, lc.defaultView(out)));
}

export const op: OpDef<AvgPool2dNode> = {
  op: 'avg_pool2d',
  arity: 1,
  parse(raw, base, c, what) {
    const padding =
      raw.padding === 'SAME' || raw.padding === 'VALID'
        ? raw.padding
        : c.fail(`${what}: padding ${JSON.stringify(raw.padding)} is unknown`);
    const window = pair(c, raw.window, `${what} window`);
    return {
      op: 'avg_pool2d',
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
  reference: (n, [x], cx) => avgPool2dRef(poolGeometry(n, cx.shape(n.inputs[0]!)), x!, n.activation),
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
      { name: 'count_include_pad', int: 0 },
    ];
    const input = b.value(n.inputs[0]!);
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
      b.node({ name: n.name, opType: 'AveragePool', inputs: [input], outputs: [target], attributes }),
    );
  },
  tflite: {
    builtins: ['AVERAGE_POOL_2D'],
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
        op: 'avg_pool2d',
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
