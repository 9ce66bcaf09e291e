/**
 * A quantized .tflite run on the GPU integer kernels as a straight sequence of dispatches (no graph
 * executor): one buffer per activation tensor (RESHAPE aliases its input), weights, per-channel data
 * and tables uploaded once, every operator before the SSD post-process recorded in order, one submit.
 * For tests: it checks the kernels end to end against the CPU interpreter and TFLite's goldens.
 */
import type { TfliteModel } from '../../src/convert/tflite.ts';
import { elementCount } from '../../src/convert/tflite.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { encodeDispatches, type Dispatch } from '../../src/gpu/dispatch.ts';
import { channelData, packedBias, supportsPackedDot } from '../../src/kernels/qcommon.ts';
import {
  qconv2dDispatch,
  qconv2dPipeline,
  selectQConv2dVariant,
  type QConv2dVariant,
} from '../../src/kernels/qconv2d.ts';
import {
  qdepthwiseConv2dDispatch,
  qdepthwiseConv2dPipeline,
  selectQDepthwiseVariant,
} from '../../src/kernels/qdepthwise_conv2d.ts';
import {
  qaddDispatch,
  qaddPipeline,
  qconcatDispatches,
  qlogisticDispatch,
  qlutPipeline,
} from '../../src/kernels/qelementwise.ts';
import {
  qpointwiseConv2dDispatch,
  qpointwiseConv2dPipeline,
  selectQPointwiseVariant,
  type QPointwiseVariant,
} from '../../src/kernels/qpointwise_conv2d.ts';
import {
  packQuantized,
  unpackQuantized,
  type QuantArray,
  type Requantization,
} from '../../src/kernels/quantization.ts';
import { dtypeOf, intOps, type IntOp } from './tflite_int_ops.ts';

export interface IntGpuOptions {
  requant: Requantization;
  /** Use WGSL's packed 4x8-bit dot products where a kernel has them (default: when the adapter does). */
  packedDot?: boolean;
}

export class TfliteIntGpu {
  /** Variant chosen for each convolution, by operator index, for diagnostics. */
  readonly variants = new Map<number, string>();
  private readonly owned: GPUBuffer[] = [];
  private readonly tensors = new Map<number, GPUBuffer>();
  private dispatches: Dispatch[] = [];

  private constructor(
    private readonly ctx: GpuContext,
    private readonly model: TfliteModel,
  ) {}

  static async create(ctx: GpuContext, model: TfliteModel, opts: IntGpuOptions): Promise<TfliteIntGpu> {
    const run = new TfliteIntGpu(ctx, model);
    const packedDot = opts.packedDot ?? (await supportsPackedDot(ctx));
    await run.record(intOps(model, opts.requant), opts.requant, packedDot);
    return run;
  }

  private upload(label: string, words: Uint32Array): GPUBuffer {
    const b = this.ctx.createBuffer(label, Math.max(words.byteLength, 16), GPUBufferUsage.STORAGE, words);
    this.owned.push(b);
    return b;
  }

  private activation(index: number): GPUBuffer {
    let b = this.tensors.get(index);
    if (!b) {
      const t = this.model.tensors[index]!;
      b = this.ctx.createBuffer(
        t.name,
        Math.ceil(elementCount(t.shape) / 4) * 4,
        GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      );
      this.owned.push(b);
      this.tensors.set(index, b);
    }
    return b;
  }

  private async record(ops: IntOp[], requant: Requantization, packedDot: boolean): Promise<void> {
    const { ctx } = this;
    const at = (i: number) => ({ buffer: this.activation(i) });
    for (const op of ops) {
      const label = `${op.op.index}:${op.op.code.name}`;
      switch (op.kind) {
        case 'conv2d':
        case 'depthwise': {
          const { g, operands: o } = op;
          const config = { dtype: o.dtype, requant };
          const k = g.kH * g.kW * g.inC;
          const pointwise = op.kind === 'conv2d' && g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1;
          const channels = channelData(
            op.bias,
            op.requant,
            op.kind === 'conv2d' ? packedBias(op.bias, op.filter, k, o.inputZeroPoint, o.filterZeroPoint) : op.bias,
          );
          const b = {
            input: at(op.input),
            filter: { buffer: this.upload(`${label}:filter`, packQuantized(op.filter)) },
            channels: { buffer: this.upload(`${label}:channels`, new Uint32Array(channels.buffer)) },
            output: at(op.output),
          };
          if (op.kind === 'depthwise') {
            const v = selectQDepthwiseVariant(g);
            this.variants.set(op.op.index, v);
            this.dispatches.push(
              qdepthwiseConv2dDispatch(ctx, await qdepthwiseConv2dPipeline(ctx, v, config), v, g, o, op.requant, b, {
                label,
              }),
            );
          } else if (pointwise) {
            const s = { M: g.batch * g.inH * g.inW, K: g.inC, N: g.outC };
            const v: QPointwiseVariant = selectQPointwiseVariant(s, packedDot);
            this.variants.set(op.op.index, v);
            this.dispatches.push(
              qpointwiseConv2dDispatch(ctx, await qpointwiseConv2dPipeline(ctx, v, config), v, s, o, op.requant, b, {
                label,
              }),
            );
          } else {
            const v: QConv2dVariant = selectQConv2dVariant(g, packedDot);
            this.variants.set(op.op.index, v);
            this.dispatches.push(
              qconv2dDispatch(ctx, await qconv2dPipeline(ctx, v, config), v, g, o, op.requant, b, { label }),
            );
          }
          break;
        }
        case 'reshape':
          this.tensors.set(op.output, this.activation(op.input));
          break;
        case 'concat': {
          const shape = this.model.tensors[op.output]!.shape;
          const parts = op.inputs.map((i, j) => ({
            size: this.model.tensors[i]!.shape[op.axis]!,
            table: { buffer: this.upload(`${label}:table${j}`, op.tables[j]!) },
            input: at(i),
          }));
          this.dispatches.push(
            ...qconcatDispatches(ctx, await qlutPipeline(ctx), shape, op.axis, parts, at(op.output), label),
          );
          break;
        }
        case 'logistic': {
          const count = elementCount(this.model.tensors[op.output]!.shape);
          this.dispatches.push(
            qlogisticDispatch(
              ctx,
              await qlutPipeline(ctx),
              count,
              { buffer: this.upload(`${label}:table`, op.table) },
              at(op.input),
              at(op.output),
              label,
            ),
          );
          break;
        }
        case 'add': {
          const count = elementCount(this.model.tensors[op.output]!.shape);
          const pipe = await qaddPipeline(ctx, { dtype: dtypeOf(this.model.tensors[op.output]!), requant });
          this.dispatches.push(
            qaddDispatch(ctx, pipe, count, op.requant, at(op.inputs[0]), at(op.inputs[1]), at(op.output), label),
          );
          break;
        }
      }
    }
  }

  /** Runs the network on one quantized input; reads back the named tensors. */
  async run(input: QuantArray, outputs: readonly number[]): Promise<Map<number, QuantArray>> {
    const { ctx } = this;
    const words = packQuantized(input);
    ctx.queue.writeBuffer(this.activation(this.model.inputs[0]!), 0, words.buffer, words.byteOffset, words.byteLength);
    await ctx.checked('integer network', () => {
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encodeDispatches(pass, this.dispatches);
      pass.end();
      ctx.queue.submit([enc.finish()]);
    });
    ctx.throwUncaptured('integer network');
    const result = new Map<number, QuantArray>();
    for (const i of outputs) {
      const t = this.model.tensors[i]!;
      const n = elementCount(t.shape);
      const read = new Uint32Array(await ctx.readBuffer(this.activation(i), 0, Math.ceil(n / 4) * 4));
      result.set(i, unpackQuantized(dtypeOf(t), read, n));
    }
    return result;
  }

  get dispatchCount(): number {
    return this.dispatches.length;
  }

  dispose(): void {
    for (const d of this.dispatches) for (const b of d.owned) b.destroy();
    for (const b of this.owned) b.destroy();
    this.dispatches = [];
  }
}
