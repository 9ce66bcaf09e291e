/** logistic: the sigmoid 1 / (1 + e^-x), element-wise. TFLite LOGISTIC; ONNX Sigmoid. */
import type { OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { logisticDispatch, logisticPipeline, logisticRef } from '../kernels/elementwise.ts';
import { qlogisticDispatch, qlutPipeline } from '../kernels/qelementwise.ts';
import { logisticTable } from '../kernels/quant_tables.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import { IntegerStep, integerOf, refuseInteger } from './support/quantized.ts';
import type { NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import type { StorageType } from '../kernels/storage.ts';

export interface LogisticNode extends NodeBase {
  op: 'logistic';
}

declare module './support/node.ts' {
  interface OpNodes {
    logistic: LogisticNode;
  }
}

class LogisticStep implements Step {
  readonly kind = 'logistic';
  constructor(
    readonly name: string,
    readonly count: number,
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
    return logisticPipeline(ctx, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    return logisticDispatch(ctx, pipe, this.count, io.tensor(this.input), io.tensor(this.output), this.name);
  }
}

/** Integer lowering: the 256-entry table of the runtime being matched (quant_tables.ts). */
function lowerInteger(n: LogisticNode, lc: LowerContext): void {
  const iq = integerOf(lc);
  const [x, out] = [n.inputs[0]!, n.outputs[0]!];
  const [xq, yq] = [iq.tensor(x), iq.tensor(out)];
  if (xq.dtype !== yq.dtype) refuseInteger(n, lc, `input ${xq.dtype}, output ${yq.dtype}`);
  const count = product(lc.shape(out));
  const table = {
    name: `${n.name}:int:${iq.requant}:table`,
    lastDim: 0,
    words: () => logisticTable(xq.dtype, xq, yq, iq.requant),
  };
  lc.emit(
    new IntegerStep(n.name, 'qlogistic', 'table', out, lc.defaultView(out), [x], [table], {
      pipeline: (ctx) => qlutPipeline(ctx),
      dispatch: (ctx, pipe, io) =>
        qlogisticDispatch(ctx, pipe, count, io.weight(table.name), io.tensor(x), io.tensor(out), n.name),
    }),
  );
}

export const op: OpDef<LogisticNode> = {
  op: 'logistic',
  arity: 1,
  integer: true,
  parse: (_, base) => ({ op: 'logistic', ...base }),
  outputShape: (_, [x]) => [...x!],
  reference: (_, [x]) => logisticRef(x!),
  cost: (_, [x]) => ({ params: 0, macs: 0, bytes: 8 * product(x!) }),
  lower(n, lc) {
    if (lc.integer) return lowerInteger(n, lc);
    const out = n.outputs[0]!;
    lc.emit(new LogisticStep(n.name, product(lc.shape(out)), n.inputs[0]!, out, lc.defaultView(out)));
  },
  onnx: (n, b) =>
    b.node({ name: n.name, opType: 'Sigmoid', inputs: [b.value(n.inputs[0]!)], outputs: [b.value(n.outputs[0]!)] }),
  tflite: {
    builtins: ['LOGISTIC'],
    convert(op, cx) {
      const out = cx.output(op);
      return { op: 'logistic', name: out, inputs: [cx.activation(op, 0)], outputs: [out] };
    },
  },
};
