/**
 * Runs only the network on a given input tensor and reads back its raw outputs (box encodings and
 * class logits). This is the parity/debug path used by tests and tools: the detector itself never
 * reads these back, it hands them to the SSD head on the GPU.
 */
import type { GpuContext } from '../gpu/context.ts';
import { encodeDispatches } from '../gpu/dispatch.ts';
import type { GraphExecutor } from './executor.ts';

export async function runRawOutputs(
  ctx: GpuContext,
  ex: GraphExecutor,
  input: Float32Array,
  extra: string[] = [],
): Promise<Map<string, Float32Array>> {
  const inp = ex.input;
  if (input.byteLength > (inp.size ?? 0))
    throw new RangeError(`input of ${input.length} floats does not fit the model input (${(inp.size ?? 0) / 4})`);
  ctx.queue.writeBuffer(inp.buffer, inp.offset ?? 0, input.buffer, input.byteOffset, input.byteLength);
  const names = [ex.lowered.outputs.boxes, ex.lowered.outputs.scores, ...extra];
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, ex.dispatches);
  pass.end();
  ctx.queue.submit([enc.finish()]);
  const out = new Map<string, Float32Array>();
  for (const n of names) {
    const b = ex.bind(n);
    const bytes = 4 * ex.lowered.batch * shapeSize(ex, n);
    out.set(n, new Float32Array(await ctx.readBuffer(b.buffer, b.offset ?? 0, bytes)));
  }
  ctx.throwUncaptured('raw network run');
  return out;
}

function shapeSize(ex: GraphExecutor, tensor: string): number {
  const s = ex.shapes[tensor];
  if (!s) throw new Error(`unknown tensor ${tensor}`);
  return s.slice(1).reduce((a, b) => a * b, 1);
}
