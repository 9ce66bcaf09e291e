/**
 * Runs a model's network and SSD head on an exact input tensor (bypassing image preprocessing), for
 * parity tests against reference runtimes that were fed that same tensor. Reads back the raw
 * outputs too, which the product path never does.
 */
import type { GpuContext } from '../../src/gpu/context.ts';
import { encodeDispatches } from '../../src/gpu/dispatch.ts';
import { GraphExecutor, packModelWeights } from '../../src/graph/executor.ts';
import { constData, type LoadedModel } from '../../src/graph/weights.ts';
import { decodeFloat16, encodeFloat16 } from '../../src/graph/float16.ts';
import type { StorageType } from '../../src/kernels/storage.ts';
import { parseDetections, SsdHead } from '../../src/ssd/head.ts';
import { keypointCount, type HeadDetection, type HeadOptions } from '../../src/ssd/head_types.ts';

export interface TensorRun {
  boxes: Float32Array;
  scores: Float32Array;
  detections: HeadDetection[];
}

export class TensorPipeline {
  private constructor(
    private readonly ctx: GpuContext,
    readonly model: LoadedModel,
    private readonly ex: GraphExecutor,
    private readonly head: SsdHead,
    private readonly cap: number,
    private readonly storage: StorageType,
  ) {}

  /** `storage` f16: weights, activations and the head's inputs in float16 (inputs and outputs converted here). */
  static async create(
    ctx: GpuContext,
    model: LoadedModel,
    cap = 100,
    storage: StorageType = 'f32',
  ): Promise<TensorPipeline> {
    const weights = packModelWeights(ctx, model, undefined, storage);
    const ex = await GraphExecutor.create(ctx, model, weights, 1, {}, undefined, undefined, storage);
    const s = model.json.shapes[model.json.outputs.scores]!;
    const head = await SsdHead.create(ctx, {
      batch: 1,
      numAnchors: s[1]!,
      numClasses: s[2]!,
      anchors: constData(model, model.json.ssd.anchors).data,
      spec: model.json.ssd,
      maxDetectionsCap: cap,
      candidateCap: 1024,
      labels: model.json.labels,
      storage,
    });
    return new TensorPipeline(ctx, model, ex, head, cap, storage);
  }

  async run(input: Float32Array, options: HeadOptions): Promise<TensorRun> {
    const { ctx, ex, head } = this;
    const inp = ex.input;
    const bytes = this.storage === 'f16' ? encodeFloat16(input) : input;
    ctx.queue.writeBuffer(inp.buffer, inp.offset ?? 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    head.setOptions(options);
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, ex.dispatches);
    encodeDispatches(pass, head.dispatches(ex.outputs.boxes, ex.outputs.scores));
    pass.end();
    ctx.queue.submit([enc.finish()]);
    const f16 = this.storage === 'f16';
    const read = async (b: GPUBufferBinding, floats: number) => {
      const raw = await ctx.readBuffer(b.buffer, b.offset ?? 0, Math.ceil((floats * (f16 ? 2 : 4)) / 4) * 4);
      return f16 ? decodeFloat16(new Uint8Array(raw, 0, floats * 2)) : new Float32Array(raw);
    };
    const s = this.model.json.shapes;
    const boxes = await read(
      ex.outputs.boxes,
      s[this.model.json.outputs.boxes]!.slice(1).reduce((a, b) => a * b, 1),
    );
    const scores = await read(
      ex.outputs.scores,
      s[this.model.json.outputs.scores]!.slice(1).reduce((a, b) => a * b, 1),
    );
    const out = await ctx.readBuffer(head.output, 0, head.outputBytes);
    ctx.throwUncaptured('tensor pipeline');
    return { boxes, scores, detections: parseDetections(out, 1, this.cap, keypointCount(this.model.json.ssd))[0]! };
  }

  /** The head alone on given raw outputs (e.g. the reference runtime's own tensors). */
  async headOnly(boxes: Float32Array, logits: Float32Array, options: HeadOptions): Promise<HeadDetection[]> {
    const { ctx, ex, head } = this;
    if (this.storage !== 'f32') throw new Error('headOnly writes float32 tensors: use an f32 pipeline');
    const b = ex.outputs.boxes,
      s = ex.outputs.scores;
    ctx.queue.writeBuffer(b.buffer, b.offset ?? 0, boxes.buffer, boxes.byteOffset, boxes.byteLength);
    ctx.queue.writeBuffer(s.buffer, s.offset ?? 0, logits.buffer, logits.byteOffset, logits.byteLength);
    head.setOptions(options);
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, head.dispatches(b, s));
    pass.end();
    ctx.queue.submit([enc.finish()]);
    const out = await ctx.readBuffer(head.output, 0, head.outputBytes);
    return parseDetections(out, 1, this.cap, keypointCount(this.model.json.ssd))[0]!;
  }
}
