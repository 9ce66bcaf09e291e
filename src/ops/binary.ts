/**
 * binary: element-wise mul or sub of two operands with NumPy broadcasting (up to rank 4), and a fused
 * clamp. The right operand is a second input or a constant; TFLite graphs also subtract from a constant
 * (`constantFirst`). TFLite MUL and SUB; ONNX Mul / Sub, computed in NHWC order.
 */
import source from '../../shaders/binary.wgsl';
import type { Clamp, OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { intersect, parseClamp } from './support/conv.ts';
import type { OptionsSchema } from './support/interchange.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import { ShapeError, type NodeBase, type ShapeContext } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

export const BINARY_FNS = ['mul', 'sub'] as const;
export type BinaryFn = (typeof BINARY_FNS)[number];

export interface BinaryNode extends NodeBase {
  op: 'binary';
  fn: BinaryFn;
  /** The other operand when it is a constant (then the node has one input). */
  constant?: string;
  /** The constant is the left operand: constant - x. */
  constantFirst?: boolean;
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    binary: BinaryNode;
  }
}

const BinaryParams = uniformSchema('Params', {
  outShape: 'vec4u',
  xStrides: 'vec4u',
  kStrides: 'vec4u',
  count: 'u32',
  swap: 'u32',
  channels: 'u32',
  pixels: 'u32',
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  clampMin: 'f32',
  clampMax: 'f32',
});

/** NumPy broadcasting of two shapes; ShapeError when they do not broadcast or pass rank 4. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  if (rank > 4) throw new ShapeError(`operands of rank ${rank} (at most 4)`);
  return Array.from({ length: rank }, (_, i) => {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(`shapes [${a}] and [${b}] do not broadcast`);
    return Math.max(da, db);
  });
}

/**
 * Element strides of `shape` read at the rank-4 output: 0 where it broadcasts. A packed constant has its
 * last axis padded to a multiple of 4.
 */
function broadcastStrides(shape: readonly number[], out: readonly number[], padLast: boolean): number[] {
  const dims = [...Array<number>(4 - shape.length).fill(1), ...shape];
  const outDims = [...Array<number>(4 - out.length).fill(1), ...out];
  const strides = [0, 0, 0, 0];
  let stride = 1;
  for (let i = 3; i >= 0; i--) {
    strides[i] = dims[i] === 1 && outDims[i] !== 1 ? 0 : stride;
    stride *= i === 3 && padLast ? Math.ceil(dims[i]! / 4) * 4 : dims[i]!;
  }
  return strides;
}

export function binaryPipeline(
  ctx: GpuContext,
  fn: BinaryFn,
  constant: boolean,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`binary/${fn}/${constant ? 'const' : 'tensor'}/${storage}/wg${workgroupSize}`, () => ({
    label: `binary_${fn}`,
    code: withStorage(
      storage,
      BinaryParams.wgsl + source.replace('<storage, K_ACCESS>', constant ? '<storage, read>' : '<storage, read_write>'),
    ),
    entryPoint: `main_${fn}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', constant ? 'storage' : 'rw', 'rw'],
  }));
}

export interface BinaryOperands {
  /** Shape of the activation x, batch first. */
  x: readonly number[];
  /** Shape of the other operand; a constant's is packed with its last axis padded to 4. */
  k: readonly number[];
  constant: boolean;
  swap: boolean;
}

export function binaryDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  fn: BinaryFn,
  o: BinaryOperands,
  act: Clamp,
  b: { x: Binding; k: Binding; output: Binding },
  opts: { view?: OutputView; label?: string } = {},
): Dispatch {
  const out = broadcastShape(o.x, o.k);
  const count = product(out);
  const channels = out.length > 1 ? out.at(-1)! : 1;
  const pixels = out.length > 1 ? product(out.slice(1, -1)) : 1;
  const view = opts.view ?? { base: 0, batchStride: pixels * channels, pixelStride: channels };
  const params = {
    outShape: [...Array<number>(4 - out.length).fill(1), ...out],
    xStrides: broadcastStrides(o.x, out, false),
    kStrides: broadcastStrides(o.k, out, o.constant),
    count,
    swap: o.swap ? 1 : 0,
    channels,
    pixels,
    outBase: view.base,
    outBatchStride: view.batchStride,
    outPixelStride: view.pixelStride,
    clampMin: act.min,
    clampMax: act.max,
  };
  const meta = { label: opts.label ?? `binary_${fn}`, op: 'binary', flops: count, bytes: 12 * count };
  const resources = [b.x, b.k, b.output];
  return makeDispatch(ctx, pipe, BinaryParams, params, resources, { threads: count, workgroupSize: 64 }, meta);
}

/** Plain-loop CPU reference: `a op b` broadcast, both unpadded. */
export function binaryRef(
  fn: BinaryFn,
  a: Float32Array,
  as: readonly number[],
  b: Float32Array,
  bs: readonly number[],
  act: Clamp,
): Float32Array {
  const out = broadcastShape(as, bs);
  const sa = broadcastStrides(as, out, false);
  const sb = broadcastStrides(bs, out, false);
  const d = [...Array<number>(4 - out.length).fill(1), ...out] as [number, number, number, number];
  const y = new Float32Array(product(out));
  let i = 0;
  for (let i0 = 0; i0 < d[0]; i0++)
    for (let i1 = 0; i1 < d[1]; i1++)
      for (let i2 = 0; i2 < d[2]; i2++)
        for (let i3 = 0; i3 < d[3]; i3++) {
          const va = a[i0 * sa[0]! + i1 * sa[1]! + i2 * sa[2]! + i3 * sa[3]!]!;
          const vb = b[i0 * sb[0]! + i1 * sb[1]! + i2 * sb[2]! + i3 * sb[3]!]!;
          y[i++] = Math.min(Math.max(fn === 'mul' ? va * vb : va - vb, act.min), act.max);
        }
  return y;
}

class BinaryStep implements Step {
  readonly kind = 'binary';
  constructor(
    readonly name: string,
    readonly fn: BinaryFn,
    readonly operands: BinaryOperands,
    public act: Clamp,
    readonly x: string,
    readonly k: string,
    public output: string,
    public view: OutputView,
  ) {}

  get variant(): string {
    return this.fn;
  }
  reads(): string[] {
    return this.operands.constant ? [this.x] : [this.x, this.k];
  }
  weights() {
    return this.operands.constant ? [{ name: this.k, lastDim: this.operands.k.at(-1) ?? 1 }] : [];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return binaryPipeline(ctx, this.fn, this.operands.constant, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const k = this.operands.constant ? io.weight(this.k) : io.tensor(this.k);
    const b = { x: io.tensor(this.x), k, output: io.tensor(this.output) };
    return binaryDispatch(ctx, pipe, this.fn, this.operands, this.act, b, { view: this.view, label: this.name });
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

/** The two operand shapes in order (left, right), batch first for activations. */
function operandShapes(
  n: BinaryNode,
  inputs: readonly (readonly number[])[],
  cx: ShapeContext,
): [readonly number[], readonly number[]] {
  if (n.constant === undefined) return [inputs[0]!, inputs[1]!];
  const c = cx.constShape(n.constant);
  if (!c) throw new ShapeError(`constant ${n.constant} is missing`);
  return n.constantFirst ? [c, inputs[0]!] : [inputs[0]!, c];
}

function lower(n: BinaryNode, lc: LowerContext): void {
  const out = n.outputs[0]!;
  const x = lc.shape(n.inputs[0]!);
  const constant = n.constant !== undefined;
  const k = constant ? n.constant! : n.inputs[1]!;
  const operands = { x, k: constant ? lc.constShape(k) : lc.shape(k), constant, swap: n.constantFirst === true };
  lc.emit(new BinaryStep(n.name, n.fn, operands, n.activation, n.inputs[0]!, k, out, lc.defaultView(out)));
}

const OPTIONS = {
  MUL: { table: 'MulOptions', type: 21, fields: { activation: [0, 'activation'] } },
  SUB: { table: 'SubOptions', type: 28, fields: { activation: [0, 'activation'] } },
} as const satisfies Record<string, OptionsSchema>;

export const op: OpDef<BinaryNode> = {
  op: 'binary',
  arity: [1, 2],
  parse(raw, base, c, what) {
    const fn = BINARY_FNS.find((f) => f === raw.fn) ?? c.fail(`${what}: fn ${JSON.stringify(raw.fn)} is unknown`);
    const node: BinaryNode = { op: 'binary', ...base, fn, activation: parseClamp(c, raw.activation, what) };
    if (raw.constant !== undefined) {
      node.constant = c.str(raw.constant, `${what} constant`);
      if (raw.constantFirst !== undefined && typeof raw.constantFirst !== 'boolean')
        c.fail(`${what} constantFirst must be true or false`);
      if (raw.constantFirst === true) node.constantFirst = true;
    }
    if (base.inputs.length !== (node.constant === undefined ? 2 : 1))
      c.fail(`${what} needs two inputs, or one input and a constant`);
    return node;
  },
  constants: (n) => (n.constant === undefined ? [] : [n.constant]),
  outputShape(n, inputs, cx) {
    const [a, b] = operandShapes(n, inputs, cx);
    const out = broadcastShape(a, b);
    // The batch of an activation stays dimension 0: a constant may not widen it.
    const x = inputs[0]!;
    if (out.length !== x.length) throw new ShapeError(`a constant of rank ${out.length} widens [${x}]`);
    return out;
  },
  reference(n, inputs, cx) {
    const x = cx.shape(n.inputs[0]!);
    if (n.constant === undefined)
      return binaryRef(n.fn, inputs[0]!, x, inputs[1]!, cx.shape(n.inputs[1]!), n.activation);
    const [c, cs] = [cx.constant(n.constant), cx.constShape(n.constant)!];
    return n.constantFirst
      ? binaryRef(n.fn, c, cs, inputs[0]!, x, n.activation)
      : binaryRef(n.fn, inputs[0]!, x, c, cs, n.activation);
  },
  cost: (n, inputs, cx) => ({
    params: 0,
    macs: 0,
    bytes: 12 * product(broadcastShape(...operandShapes(n, inputs, cx))),
  }),
  lower,
  onnx(n, b) {
    // In NHWC order, where the model's broadcasting applies; back to NCHW for a rank-4 result.
    const operand = (t: string) => b.nhwc(t);
    const k =
      n.constant === undefined
        ? operand(n.inputs[1]!)
        : b.constant(n.constant, b.constShape(n.constant), () => b.data(n.constant!));
    const x = operand(n.inputs[0]!);
    const out = n.outputs[0]!;
    const rank4 = b.shape(out).length === 4;
    b.withClamp(n.name, b.value(out), n.activation, (target) => {
      const result = rank4 ? `${out}:binary_nhwc` : target;
      const inputs = n.constantFirst ? [k, x] : [x, k];
      b.node({ name: n.name, opType: n.fn === 'mul' ? 'Mul' : 'Sub', inputs, outputs: [result] });
      if (rank4)
        b.node({
          name: `${n.name}/to_nchw`,
          opType: 'Transpose',
          inputs: [result],
          outputs: [target],
          attributes: [{ name: 'perm', ints: [0, 3, 1, 2] }],
        });
    });
  },
  tflite: {
    builtins: ['MUL', 'SUB'],
    convert(op, cx) {
      const fn: BinaryFn = op.name === 'MUL' ? 'mul' : 'sub';
      const o = cx.options(op, OPTIONS[op.name as keyof typeof OPTIONS]);
      const out = cx.output(op);
      const base = { op: 'binary' as const, name: out, outputs: [out], fn, activation: cx.clamp(op, o.activation) };
      const constant = [0, 1].find((k) => cx.values(op, k) !== undefined);
      if (constant === undefined)
        return { ...base, inputs: [cx.activation(op, 0), cx.activation(op, 1)] } satisfies BinaryNode;
      const x = 1 - constant;
      const name = cx.constant(op, constant, 'operand', cx.inputShape(op, constant));
      const node: BinaryNode = { ...base, inputs: [cx.activation(op, x)], constant: name };
      if (constant === 0) node.constantFirst = true;
      return node;
    },
  },
};
