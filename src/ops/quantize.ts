/**
 * quantize: TFLite QUANTIZE of an activation (float to int8/uint8/int16, or a requantization). The engine
 * computes in real values, so this snaps each value to the output's integer grid and keeps it real:
 * y = (clamp(round(x / scale) + zeroPoint, qmin, qmax) - zeroPoint) * scale, rounding half away from zero
 * as TFLite does. (DEQUANTIZE of an activation is the identity; see activation.ts.) ONNX: the same
 * arithmetic in Div, Abs, Floor, Sign, Clip (QuantizeLinear rounds half to even).
 */
import source from '../../shaders/quantize.wgsl';
import type { OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import type { TfliteQuantization } from './support/interchange.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import type { NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

export interface QuantizeNode extends NodeBase, TfliteQuantization {
  op: 'quantize';
}

declare module './support/node.ts' {
  interface OpNodes {
    quantize: QuantizeNode;
  }
}

const QuantizeParams = uniformSchema('Params', {
  count: 'u32',
  channels: 'u32',
  pixels: 'u32',
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  scale: 'f32',
  zeroPoint: 'f32',
  qmin: 'f32',
  qmax: 'f32',
});

export function quantizePipeline(
  ctx: GpuContext,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`quantize/${storage}/wg${workgroupSize}`, () => ({
    label: 'quantize',
    code: withStorage(storage, QuantizeParams.wgsl + source),
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

export function quantizeDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  shape: readonly number[],
  q: TfliteQuantization,
  b: { input: Binding; output: Binding },
  opts: { view?: OutputView; label?: string } = {},
): Dispatch {
  const count = product(shape);
  const channels = shape.length > 1 ? shape.at(-1)! : 1;
  const pixels = shape.length > 1 ? product(shape.slice(1, -1)) : 1;
  const view = opts.view ?? { base: 0, batchStride: pixels * channels, pixelStride: channels };
  const params = {
    count,
    channels,
    pixels,
    outBase: view.base,
    outBatchStride: view.batchStride,
    outPixelStride: view.pixelStride,
    scale: q.scale,
    zeroPoint: q.zeroPoint,
    qmin: q.qmin,
    qmax: q.qmax,
  };
  const meta = { label: opts.label ?? 'quantize', op: 'quantize', flops: 6 * count, bytes: 8 * count };
  return makeDispatch(
    ctx,
    pipe,
    QuantizeParams,
    params,
    [b.input, b.output],
    { threads: count, workgroupSize: 64 },
    meta,
  );
}

/** Plain-loop CPU reference, the division in float32 as TFLite and the GPU do it. */
export function quantizeRef(x: Float32Array, q: TfliteQuantization): Float32Array {
  const scale = Math.fround(q.scale);
  return x.map((v) => {
    const s = Math.fround(v / scale);
    const r = Math.sign(s) * Math.floor(Math.abs(s) + 0.5);
    return (Math.min(Math.max(r + q.zeroPoint, q.qmin), q.qmax) - q.zeroPoint) * scale;
  });
}

class QuantizeStep implements Step {
  readonly kind = 'quantize';
  constructor(
    readonly name: string,
    readonly shape: number[],
    readonly q: TfliteQuantization,
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
    return quantizePipeline(ctx, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = { input: io.tensor(this.input), output: io.tensor(this.output) };
    return quantizeDispatch(ctx, pipe, this.shape, this.q, b, { view: this.view, label: this.name });
  }
}

function lower(n: QuantizeNode, lc: LowerContext): void {
  const out = n.outputs[0]!;
  lc.emit(new QuantizeStep(n.name, lc.shape(out), n, n.inputs[0]!, out, lc.defaultView(out)));
}

export const op: OpDef<QuantizeNode> = {
  op: 'quantize',
  arity: 1,
  parse(raw, base, c, what) {
    const scale = c.num(raw.scale, `${what} scale`);
    if (!(scale > 0)) c.fail(`${what} scale must be positive`);
    const int = (v: unknown, name: string) => {
      const n = c.num(v, `${what} ${name}`);
      return Number.isInteger(n) ? n : c.fail(`${what} ${name} must be an integer`);
    };
    const [zeroPoint, qmin, qmax] = [int(raw.zeroPoint, 'zeroPoint'), int(raw.qmin, 'qmin'), int(raw.qmax, 'qmax')];
    if (!(qmin <= zeroPoint && zeroPoint <= qmax))
      c.fail(`${what} zero point ${zeroPoint} is outside [${qmin}, ${qmax}]`);
    return { op: 'quantize', ...base, scale, zeroPoint, qmin, qmax };
  },
  outputShape: (_, [x]) => [...x!],
  reference: (n, [x]) => quantizeRef(x!, n),
  cost: (_, [x]) => ({ params: 0, macs: 0, bytes: 8 * product(x!) }),
  lower,
  onnx(n, b) {
    const k = (name: string, v: number) => b.constant(`${n.name}/${name}`, [], () => Float32Array.of(v));
    const t = (s: string) => `${n.name}/${s}`;
    const steps: [string, string[], string][] = [
      ['Div', [b.value(n.inputs[0]!), k('scale', n.scale)], t('s')],
      ['Abs', [t('s')], t('abs')],
      ['Add', [t('abs'), k('half', 0.5)], t('abs_half')],
      ['Floor', [t('abs_half')], t('magnitude')],
      ['Sign', [t('s')], t('sign')],
      ['Mul', [t('magnitude'), t('sign')], t('rounded')],
      ['Add', [t('rounded'), k('zero_point', n.zeroPoint)], t('q')],
      ['Clip', [t('q'), k('qmin', n.qmin), k('qmax', n.qmax)], t('clipped')],
      ['Sub', [t('clipped'), k('zero_point', n.zeroPoint)], t('centred')],
      ['Mul', [t('centred'), k('scale', n.scale)], b.value(n.outputs[0]!)],
    ];
    for (const [opType, inputs, output] of steps) b.node({ name: `${output}:node`, opType, inputs, outputs: [output] });
  },
  tflite: {
    builtins: ['QUANTIZE'],
    convert(op, cx) {
      const q = cx.outputQuantization(op);
      if (!q || !(q.scale > 0)) return cx.fail(op, 'has an output without an integer type and a positive scale');
      const out = cx.output(op);
      return { op: 'quantize', name: out, inputs: [cx.activation(op, 0)], outputs: [out], ...q };
    },
  },
};
