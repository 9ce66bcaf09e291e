/**
 * reshape: the same values under another shape. No kernel: the output is an alias of the input's
 * storage (NHWC element order is kept). TFLite RESHAPE; ONNX Reshape between NHWC transposes.
 */
import { product } from '../core/shape.ts';
import type { NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { ShapeError } from './support/node.ts';

export interface ReshapeNode extends NodeBase {
  op: 'reshape';
  shape: number[];
}

declare module './support/node.ts' {
  interface OpNodes {
    reshape: ReshapeNode;
  }
}

const TO_NCHW = [0, 3, 1, 2];

export const op: OpDef<ReshapeNode> = {
  op: 'reshape',
  arity: 1,
  integer: true,
  rearranges: true,
  parse: (raw, base, c, what) => ({ op: 'reshape', ...base, shape: c.shape(raw.shape, `${what} shape`) }),
  outputShape(n, [x]) {
    if (product(n.shape) !== product(x!)) throw new ShapeError(`cannot reshape [${x}] to [${n.shape}]`);
    return [...n.shape];
  },
  /**
   * At another input size the batch and trailing dimensions stay and dimension 1 absorbs the change:
   * the SSD predictor flattening [1, H, W, A*k] -> [1, H*W*A, k] (trailing dimensions within a cell).
   */
  withInputShapes(n, [x]) {
    const total = product(x!);
    if (total === product(n.shape)) return { node: n, shape: [...n.shape] };
    const trailing = n.shape.slice(2);
    const cell = product(trailing);
    if (n.shape.length < 2 || x!.at(-1)! % cell !== 0)
      throw new ShapeError(`its target [${n.shape}] does not split per cell`);
    const shape = [n.shape[0]!, total / (n.shape[0]! * cell), ...trailing];
    return { node: { ...n, shape }, shape };
  },
  withOutputShape: (n, shape) => ({ ...n, shape: [...shape] }),
  reference: (_, [x]) => x!,
  cost: () => ({ params: 0, macs: 0, bytes: 0 }),
  lower: (n, lc) => lc.alias(n.outputs[0]!, n.inputs[0]!),
  onnx(n, b) {
    // Reshape works on element order, so it must see NHWC order like ours.
    const out = n.outputs[0]!;
    const from = b.nhwc(n.inputs[0]!);
    if (n.shape[0] !== 1)
      throw new ShapeError(
        `reshape ${n.name}: shape ${JSON.stringify(n.shape)} does not keep the batch dimension first`,
      );
    const target = [0, ...n.shape.slice(1)]; // 0 = copy the batch size from the input
    const shape = b.constant(`${n.name}/shape`, [target.length], () => BigInt64Array.from(target, BigInt));
    const rank4 = n.shape.length === 4;
    b.node({ name: n.name, opType: 'Reshape', inputs: [from, shape], outputs: [rank4 ? `${out}:nhwc` : out] });
    if (rank4)
      b.node({
        name: `${n.name}/to_nchw`,
        opType: 'Transpose',
        inputs: [`${out}:nhwc`],
        outputs: [b.value(out)],
        attributes: [{ name: 'perm', ints: TO_NCHW }],
      });
  },
  tflite: {
    builtins: ['RESHAPE'],
    convert(op, cx) {
      const [from, shape] = [cx.inputShape(op, 0), cx.outputShape(op)];
      if (product(shape) !== product(from)) cx.fail(op, `reshapes [${from}] to [${shape}]`);
      const out = cx.output(op);
      return { op: 'reshape', name: out, inputs: [cx.activation(op, 0)], outputs: [out], shape };
    },
  },
  train: {
    backward: async () => [],
    forward64: (_, [x]) => x!,
    backward64: (_, __, ___, dy) => ({ inputs: [dy], params: [] }),
  },
};
