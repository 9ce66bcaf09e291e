/**
 * pad: constant padding of an NHWC tensor on H, W and C (never the batch). TFLite PAD and PADV2 (the pad
 * value a constant input; a quantized pad value is its real value); ONNX Pad. BlazeFace pads channels
 * before its residual adds and pads spatially before its stride-2 convolutions. A zero spatial pad read
 * only by a convolution costs no pass: the convolution takes the pads into its own geometry.
 */
import source from '../../shaders/pad.wgsl';
import type { Clamp, OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { intersect, isIdentity, parseClamp } from './support/conv.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import { ShapeError, type NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

/** Elements added before and after each of H, W and C. */
export interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
  front: number;
  back: number;
}

export interface PadNode extends NodeBase {
  op: 'pad';
  pads: Pads;
  value: number;
  /** A quantized output's range. */
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    pad: PadNode;
  }
}

const PadParams = uniformSchema('Params', {
  count: 'u32',
  inH: 'u32',
  inW: 'u32',
  inC: 'u32',
  outH: 'u32',
  outW: 'u32',
  outC: 'u32',
  padTop: 'u32',
  padLeft: 'u32',
  padFront: 'u32',
  value: 'f32',
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  clampMin: 'f32',
  clampMax: 'f32',
});

export function padPipeline(
  ctx: GpuContext,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`pad/${storage}/wg${workgroupSize}`, () => ({
    label: 'pad',
    code: withStorage(storage, PadParams.wgsl + source),
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

/** `x` is the input shape [N, H, W, C]. */
export function padDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  x: readonly number[],
  pads: Pads,
  value: number,
  act: Clamp,
  b: { input: Binding; output: Binding },
  opts: { view?: OutputView; label?: string } = {},
): Dispatch {
  const [n, inH, inW, inC] = x as [number, number, number, number];
  const [, outH, outW, outC] = padShape(x, pads) as [number, number, number, number];
  const count = n * outH * outW * outC;
  const view = opts.view ?? { base: 0, batchStride: outH * outW * outC, pixelStride: outC };
  const params = {
    count,
    inH,
    inW,
    inC,
    outH,
    outW,
    outC,
    padTop: pads.top,
    padLeft: pads.left,
    padFront: pads.front,
    value,
    outBase: view.base,
    outBatchStride: view.batchStride,
    outPixelStride: view.pixelStride,
    clampMin: act.min,
    clampMax: act.max,
  };
  const meta = { label: opts.label ?? 'pad', op: 'pad', flops: 0, bytes: 4 * (product(x) + count) };
  return makeDispatch(ctx, pipe, PadParams, params, [b.input, b.output], { threads: count, workgroupSize: 64 }, meta);
}

export function padShape(x: readonly number[], p: Pads): number[] {
  if (x.length !== 4) throw new ShapeError(`input has shape [${x}], expected NHWC`);
  return [x[0]!, x[1]! + p.top + p.bottom, x[2]! + p.left + p.right, x[3]! + p.front + p.back];
}

/** Plain-loop CPU reference. */
export function padRef(x: Float32Array, shape: readonly number[], p: Pads, value: number, act: Clamp): Float32Array {
  const [n, h, w, c] = shape as [number, number, number, number];
  const [, oh, ow, oc] = padShape(shape, p) as [number, number, number, number];
  const y = new Float32Array(n * oh * ow * oc);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < oc; ch++) {
          const [iy, ix, ic] = [oy - p.top, ox - p.left, ch - p.front];
          const inside = iy >= 0 && iy < h && ix >= 0 && ix < w && ic >= 0 && ic < c;
          const v = inside ? x[((b * h + iy) * w + ix) * c + ic]! : value;
          y[((b * oh + oy) * ow + ox) * oc + ch] = Math.min(Math.max(v, act.min), act.max);
        }
  return y;
}

class PadStep implements Step {
  readonly kind = 'pad';
  constructor(
    readonly name: string,
    readonly x: number[],
    readonly pads: Pads,
    readonly value: number,
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
    return padPipeline(ctx, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = { input: io.tensor(this.input), output: io.tensor(this.output) };
    return padDispatch(ctx, pipe, this.x, this.pads, this.value, this.act, b, { view: this.view, label: this.name });
  }
  zeroPadding(): { input: string; pads: [number, number, number, number] } | undefined {
    const p = this.pads;
    const plain = this.value === 0 && p.front === 0 && p.back === 0 && isIdentity(this.act);
    return plain ? { input: this.input, pads: [p.top, p.left, p.bottom, p.right] } : undefined;
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

function lower(n: PadNode, lc: LowerContext): void {
  const out = n.outputs[0]!;
  const x = lc.shape(n.inputs[0]!);
  lc.emit(new PadStep(n.name, x, n.pads, n.value, n.activation, n.inputs[0]!, out, lc.defaultView(out)));
}

const SIDES = ['top', 'bottom', 'left', 'right', 'front', 'back'] as const;

export const op: OpDef<PadNode> = {
  op: 'pad',
  arity: 1,
  parse(raw, base, c, what) {
    const p = c.obj(raw.pads, `${what} pads`);
    const pads = Object.fromEntries(SIDES.map((s) => [s, c.int(p[s], `${what} pads.${s}`, 0)])) as unknown as Pads;
    return {
      op: 'pad',
      ...base,
      pads,
      value: c.num(raw.value, `${what} value`),
      activation: parseClamp(c, raw.activation, what),
    };
  },
  outputShape: (n, [x]) => padShape(x!, n.pads),
  reference: (n, [x], cx) => padRef(x!, cx.shape(n.inputs[0]!), n.pads, n.value, n.activation),
  cost: (n, [x]) => ({ params: 0, macs: 0, bytes: 4 * (product(x!) + product(padShape(x!, n.pads))) }),
  lower,
  onnx(n, b) {
    const p = n.pads;
    // NCHW begins then ends.
    const pads = [0, p.front, p.top, p.left, 0, p.back, p.bottom, p.right];
    const padsName = b.constant(`${n.name}/pads`, [8], () => BigInt64Array.from(pads, BigInt));
    const value = b.constant(`${n.name}/value`, [], () => Float32Array.of(n.value));
    const input = b.value(n.inputs[0]!);
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
      b.node({ name: n.name, opType: 'Pad', inputs: [input, padsName, value], outputs: [target] }),
    );
  },
  tflite: {
    builtins: ['PAD', 'PADV2'],
    convert(op, cx) {
      const xs = cx.inputShape(op, 0);
      if (xs.length !== 4) cx.unsupported(op, `padding a tensor of rank ${xs.length} (only NHWC)`);
      const paddings = cx.values(op, 1);
      if (!paddings || paddings.length !== 8) return cx.unsupported(op, 'paddings that are not a constant [4, 2]');
      const [nb, na, top, bottom, left, right, front, back] = Array.from(paddings);
      if (nb !== 0 || na !== 0) cx.unsupported(op, 'padding the batch dimension');
      const pads = { top: top!, bottom: bottom!, left: left!, right: right!, front: front!, back: back! };
      if (SIDES.some((s) => !(Number.isInteger(pads[s]) && pads[s] >= 0))) cx.fail(op, `has paddings [${paddings}]`);
      let value = 0;
      if (op.name === 'PADV2' && cx.hasInput(op, 2)) {
        const v = cx.values(op, 2);
        if (!v || v.length !== 1) return cx.unsupported(op, 'a pad value that is not a constant scalar');
        value = v[0]!;
      }
      const out = cx.output(op);
      return {
        op: 'pad',
        name: out,
        inputs: [cx.activation(op, 0)],
        outputs: [out],
        pads,
        value,
        activation: cx.clamp(op, 'NONE'),
      };
    },
  },
};
