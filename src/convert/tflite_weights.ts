/**
 * TFLite weights as float32: decoding of stored tensors (float32, float16, and uint8/int8/int32
 * with per-tensor or per-channel scale and zero point) and the value range of 8-bit tensors.
 */
import { TfliteFormatError, UnsupportedOperatorError } from '../errors.ts';
import type { Clamp } from '../core/geometry.ts';
import { elementCount, type TfliteModel, type TfliteTensor } from './tflite.ts';

/** [scale * (qmin - zp), scale * (qmax - zp)] for a per-tensor 8-bit tensor. */
export function quantizedRange(t: TfliteTensor): Clamp | undefined {
  const q = t.quantization;
  if (!q || q.scale.length !== 1 || (t.type !== 'UINT8' && t.type !== 'INT8')) return undefined;
  const [lo, hi] = t.type === 'UINT8' ? [0, 255] : [-128, 127];
  const s = q.scale[0]!;
  const zp = q.zeroPoint[0]!;
  return { min: s * (lo - zp), max: s * (hi - zp) };
}

/** Decodes stored weights to float32: float16, float32, or integers with (per-channel) scale and zero point. */
export function decodeConstant(m: TfliteModel, t: TfliteTensor, data: Uint8Array, opName: string): Float32Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = elementCount(t.shape);
  const out = new Float32Array(n);
  if (t.type === 'INT32' && !t.quantization) {
    // Without quantization an int32 tensor is plain integers: axes, paddings, sizes.
    for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
    return out;
  }
  switch (t.type) {
    case 'FLOAT32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'FLOAT16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    case 'INT64':
      // Shapes, axes, paddings: plain integers (never quantized weights).
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      return out;
    case 'UINT8':
    case 'INT8':
    case 'INT32': {
      const q = t.quantization;
      if (!q)
        throw new UnsupportedOperatorError(
          m.file,
          opName,
          `${t.type} weights ${t.name} without quantization parameters`,
        );
      const read =
        t.type === 'UINT8'
          ? (i: number) => data[i]!
          : t.type === 'INT8'
            ? (i: number) => view.getInt8(i)
            : (i: number) => view.getInt32(4 * i, true);
      const dim = q.scale.length === 1 ? -1 : q.quantizedDimension;
      const channels = dim < 0 ? 1 : t.shape[dim];
      if (channels !== q.scale.length || q.zeroPoint.length > channels || !q.scale.every((s) => Number.isFinite(s))) {
        throw new TfliteFormatError(
          m.file,
          `tensor ${t.name} [${t.shape}] has ${q.scale.length} scales along dimension ${q.quantizedDimension}`,
        );
      }
      const inner = dim < 0 ? n : elementCount(t.shape.slice(dim + 1));
      for (let i = 0; i < n; i++) {
        const c = dim < 0 ? 0 : Math.floor(i / inner) % channels;
        out[i] = (read(i) - (q.zeroPoint[c] ?? q.zeroPoint[0]!)) * q.scale[c]!;
      }
      return out;
    }
    default:
      throw new UnsupportedOperatorError(m.file, opName, `${t.type} weights ${t.name}`);
  }
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
