/**
 * What the quantized GPU kernels share: the shader prelude (signedness, requantization and the
 * 4x8-bit dot product chosen at pipeline creation), the per-channel data buffer, and the probe for
 * WGSL's packed_4x8_integer_dot_product.
 */
import common from '../../shaders/qcommon.wgsl';
import dotPacked from '../../shaders/qdot_packed.wgsl';
import dotPlain from '../../shaders/qdot_plain.wgsl';
import type { GpuContext } from '../gpu/context.ts';
import type { UniformSchema, UniformType } from '../gpu/uniforms.ts';
import type { ConvRequant, QuantArray, QuantDType, Requantization } from './quantization.ts';

/** Uniform fields every quantized conv-like kernel reads (qcommon.wgsl's requantize()). */
export const quantFields = { inZp: 'i32', wZp: 'i32', outZp: 'i32', outMin: 'i32', outMax: 'i32' } as const;

export interface QuantKernelConfig {
  dtype: QuantDType;
  requant: Requantization;
}

export function quantKey(c: QuantKernelConfig): string {
  return `${c.dtype}/${c.requant}`;
}

/** Params struct, constants, qdot/qsum and qcommon.wgsl, to prepend to a kernel's own source. */
export function quantPrelude<F extends Record<string, UniformType>>(
  schema: UniformSchema<F>,
  c: QuantKernelConfig,
  packedDot: boolean,
): string {
  const signed = `const SIGNED: bool = ${c.dtype === 'int8'};\n`;
  const requant = `const REQUANT_XNNPACK: bool = ${c.requant === 'xnnpack'};\n`;
  return schema.wgsl + signed + requant + (packedDot ? dotPacked : dotPlain) + common;
}

/**
 * Per output channel (bias, bias of the packed variants, multiplier or fp32 scale bits, shift), as
 * vec4<i32>: what qcommon.wgsl's requantize() and the kernels read.
 */
export function channelData(bias: Int32Array, q: ConvRequant, packedBias: Int32Array = bias): Int32Array {
  const outC = bias.length;
  const data = new Int32Array(4 * outC);
  const scaleBits = new Int32Array(q.scale.buffer, q.scale.byteOffset, outC);
  for (let c = 0; c < outC; c++) {
    data[4 * c] = bias[c]!;
    data[4 * c + 1] = packedBias[c]!;
    data[4 * c + 2] = q.requant === 'xnnpack' ? scaleBits[c]! : q.multiplier[c]!;
    data[4 * c + 3] = q.shift[c]!;
  }
  return data;
}

/**
 * The bias of the packed variants, for a filter [N, K] (output channel major). They sum x * w over
 * all taps, padding read as the input zero point, and correct afterwards:
 * sum (x - zx)(w - zw) = sum xw - zw sum x - zx sum w + K zx zw, so this bias absorbs the two
 * constant terms. Arithmetic wraps like the GPU's; the true sums fit in int32.
 */
export function packedBias(
  bias: Int32Array,
  filterNK: QuantArray,
  k: number,
  inputZeroPoint: number,
  filterZeroPoint: number,
): Int32Array {
  if (filterNK.length !== bias.length * k)
    throw new RangeError(`filter has ${filterNK.length} values, expected ${bias.length} x ${k}`);
  return bias.map((b, c) => {
    let wsum = 0;
    for (let i = 0; i < k; i++) wsum += filterNK[c * k + i]!;
    return (b - Math.imul(inputZeroPoint, wsum) + Math.imul(Math.imul(k, inputZeroPoint), filterZeroPoint)) | 0;
  });
}

const packedDotSupport = new WeakMap<GpuContext, Promise<boolean>>();

/** Whether the device compiles WGSL's dot4U8Packed / dot4I8Packed (cached per context). */
export function supportsPackedDot(ctx: GpuContext): Promise<boolean> {
  let p = packedDotSupport.get(ctx);
  if (!p) {
    p = (async () => {
      ctx.device.pushErrorScope('validation');
      const module = ctx.device.createShaderModule({
        label: 'packed-dot probe',
        code: 'fn f(a: u32) -> u32 { return dot4U8Packed(a, a) + bitcast<u32>(dot4I8Packed(a, a)); }',
      });
      const scope = ctx.device.popErrorScope();
      const info = await module.getCompilationInfo();
      const error = await scope;
      return !error && !info.messages.some((m) => m.type === 'error');
    })();
    packedDotSupport.set(ctx, p);
  }
  return p;
}
