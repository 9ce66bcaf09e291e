/**
 * Packs a model's constants into the layouts the kernels read (output channels padded to a multiple
 * of 4 for vec4 loads) inside one GPU buffer, each at an aligned offset. Done once per model and
 * shared by the plans for every batch size.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { ConstTensor, ModelJson } from './ir.ts';
import { padLastDimTo4 } from '../kernels/common.ts';
import { storageBytes, type StorageType } from '../kernels/storage.ts';
import { encodeFloat16 } from './float16.ts';

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
  /** Elements packed so far (values, alignment padding and words alike). */
  private elements = 0;
  private readonly elementBytes: number;
  buffer: GPUBuffer | undefined;

  /** `storage`: the float kernels' element type; f16 rounds every value to half precision at upload. */
  constructor(
    private readonly alignmentBytes: number,
    readonly storage: StorageType = 'f32',
  ) {
    this.elementBytes = storageBytes(storage);
  }

  /** Adds `data` with its last axis (length `last`) padded to a multiple of 4; same key -> same slot. */
  add(key: string, data: Float32Array, last: number): string {
    if (this.index.has(key)) return key;
    const packed = padLastDimTo4(data, last);
    const alignElements = this.alignmentBytes / this.elementBytes;
    const start = Math.ceil(this.elements / alignElements) * alignElements;
    if (start > this.elements) this.chunks.push(new Float32Array(start - this.elements));
    this.chunks.push(packed);
    const bytes = packed.length * this.elementBytes;
    this.index.set(key, { offset: start * this.elementBytes, size: Math.max(16, Math.ceil(bytes / 16) * 16) });
    this.elements = start + packed.length;
    return key;
  }

  /** Adds words stored as they are (packed integer data); same key -> same slot. Only in f32 storage. */
  addWords(key: string, words: Uint32Array): string {
    if (this.storage !== 'f32') throw new Error(`packed weight ${key}: integer words in ${this.storage} storage`);
    if (this.index.has(key)) return key;
    // A Float32Array view copies the bits unchanged (same element type: a byte copy).
    return this.add(key, new Float32Array(words.buffer, words.byteOffset, words.length), 4);
  }

  get byteLength(): number {
    return Math.ceil((this.elements * this.elementBytes) / 16) * 16;
  }

  upload(ctx: GpuContext, label: string): GPUBuffer {
    // 16 bytes of slack past the end, as before (in f16, half as many bytes per value).
    const all = new Float32Array((this.byteLength + 16) / this.elementBytes);
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.chunks = [];
    const contents = this.storage === 'f16' ? encodeFloat16(all) : all;
    this.buffer = ctx.createBuffer(label, contents.byteLength, GPUBufferUsage.STORAGE, contents);
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
