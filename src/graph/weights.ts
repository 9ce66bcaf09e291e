/**
 * Packs a model's constants into the layouts the kernels read (output channels padded to a multiple
 * of 4 for vec4 loads) inside one GPU buffer, each at an aligned offset. Done once per model and
 * shared by the plans for every batch size.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { ConstTensor, ModelJson } from './ir.ts';
import { padLastDimTo4 } from '../kernels/common.ts';

export interface LoadedModel {
  json: ModelJson;
  /** The weights file as float32 (little-endian), indexed by ConstTensor.offset / 4. */
  weights: Float32Array;
}

export function constData(model: LoadedModel, name: string): { info: ConstTensor; data: Float32Array } {
  const info = model.json.constants[name];
  if (!info) throw new Error(`model ${model.json.name}: constant ${name} is missing`);
  return { info, data: model.weights.subarray(info.offset / 4, info.offset / 4 + info.length) };
}

export type PackKind = 'pad4';

export class PackedWeights {
  private readonly index = new Map<string, { offset: number; size: number }>();
  private chunks: Float32Array[] = [];
  private floats = 0;
  buffer: GPUBuffer | undefined;

  constructor(private readonly alignmentBytes: number) {}

  /** Adds `data` with its last axis (length `last`) padded to a multiple of 4; same key -> same slot. */
  add(key: string, data: Float32Array, last: number): string {
    if (this.index.has(key)) return key;
    const packed = padLastDimTo4(data, last);
    const alignFloats = this.alignmentBytes / 4;
    const start = Math.ceil(this.floats / alignFloats) * alignFloats;
    if (start > this.floats) this.chunks.push(new Float32Array(start - this.floats));
    this.chunks.push(packed);
    this.index.set(key, { offset: start * 4, size: Math.max(16, Math.ceil((packed.length * 4) / 16) * 16) });
    this.floats = start + packed.length;
    return key;
  }

  /** Adds words stored as they are (packed integer data); same key -> same slot. */
  addWords(key: string, words: Uint32Array): string {
    if (this.index.has(key)) return key;
    // A Float32Array view copies the bits unchanged (same element type: a byte copy).
    return this.add(key, new Float32Array(words.buffer, words.byteOffset, words.length), 4);
  }

  get byteLength(): number {
    return Math.ceil((this.floats * 4) / 16) * 16;
  }

  upload(ctx: GpuContext, label: string): GPUBuffer {
    const all = new Float32Array(this.byteLength / 4 + 4);
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.chunks = [];
    this.buffer = ctx.createBuffer(label, all.byteLength, GPUBufferUsage.STORAGE, all);
    return this.buffer;
  }

  binding(key: string): GPUBufferBinding {
    const e = this.index.get(key);
    if (!e || !this.buffer) throw new Error(`packed weight ${key} is not uploaded`);
    return { buffer: this.buffer, offset: e.offset, size: e.size };
  }
}

export function weightsAlignment(ctx: GpuContext): number {
  return Math.max(256, ctx.report.limits.minStorageBufferOffsetAlignment ?? 256);
}
