// Shared by the quantized kernels (prepended by the TS side after `Params`, the SIGNED and
// REQUANT_XNNPACK constants and the qdot/qsum helpers of qdot_*.wgsl). Tensors are 8-bit values
// packed four to a little-endian u32, flat in TFLite's NHWC order. Requantization reproduces either
// runtime bit for bit (src/kernels/quantization.ts documents both):
//   TFLite:  gemmlowp's SaturatingRoundingDoublingHighMul + RoundingDivideByPOT. WGSL has no 64-bit
//            integers, so the 32x32 -> 64-bit product is assembled from 16-bit halves.
//   XNNPACK: float(acc) * scale rounded half to even. The int -> float conversion is built from two
//            exactly representable halves and one correctly rounded add, because WGSL leaves the
//            rounding of a plain f32(i32) to the implementation.

override WG_SIZE: u32 = 64u;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG_SIZE;
}

// Lane `lane` (0..3) of a packed word as a signed or unsigned value.
fn lane_value(word: u32, lane: u32) -> i32 {
  let b = (word >> (lane * 8u)) & 0xffu;
  if (SIGNED) { return bitcast<i32>(b << 24u) >> 24u; }
  return i32(b);
}

fn pack4(v: vec4<i32>) -> u32 {
  let b = vec4<u32>(bitcast<vec4<u32>>(v) & vec4<u32>(0xffu));
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

// A value repeated in the four lanes of a word (the zero point, for taps in the padding).
fn splat4(v: i32) -> u32 {
  return (bitcast<u32>(v) & 0xffu) * 0x01010101u;
}

fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
  if (a == b && a == i32(-2147483647 - 1)) { return 2147483647; }
  let negative = (a < 0) != (b < 0);
  // abs() leaves i32 min as is; as u32 that is 2^31, the right magnitude.
  let ua = bitcast<u32>(abs(a));
  let ub = bitcast<u32>(abs(b));
  let al = ua & 0xffffu;
  let ah = ua >> 16u;
  let bl = ub & 0xffffu;
  let bh = ub >> 16u;
  // Magnitudes are at most 2^31, so ah, bh <= 2^15 and the middle sum stays below 2^32.
  let mid = al * bh + ah * bl;
  let ll = al * bl;
  let lo = ll + (mid << 16u);
  var hi = ah * bh + (mid >> 16u) + select(0u, 1u, lo < ll);
  // (|a*b| + nudge) / 2^31, truncated: the nudge is 2^30 for a positive product, 2^30 - 1 for a
  // negative one, which is gemmlowp's (ab + (ab >= 0 ? 2^30 : 1 - 2^30)) / 2^31 on magnitudes.
  let nudged = lo + select(0x40000000u, 0x3fffffffu, negative);
  hi += select(0u, 1u, nudged < lo);
  let r = bitcast<i32>((hi << 1u) | (nudged >> 31u));
  return select(r, -r, negative);
}

fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
  let mask = bitcast<i32>((1u << exponent) - 1u);
  let remainder = x & mask;
  let threshold = (mask >> 1u) + select(0, 1, x < 0);
  return (x >> exponent) + select(0, 1, remainder > threshold);
}

fn requantize_tflite(acc: i32, multiplier: i32, shift: i32) -> i32 {
  let left = u32(max(shift, 0));
  let right = u32(max(-shift, 0));
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(acc << left, multiplier), right);
}

fn f32_from_i32(v: i32) -> f32 {
  return f32(v >> 16u) * 65536.0 + f32(v & 0xffff);
}

fn requantize_xnnpack(acc: i32, scale: f32, lo: i32, hi: i32) -> i32 {
  let v = clamp(f32_from_i32(acc) * scale, f32(lo), f32(hi));
  return i32(round(v));
}

// The output value of channel data `ch` = (bias, packed-variant bias, multiplier or scale bits,
// shift) for accumulator `acc`, with the zero point added and the activation clamp applied.
fn requantize(acc: i32, ch: vec4<i32>) -> i32 {
  var v: i32;
  if (REQUANT_XNNPACK) {
    v = requantize_xnnpack(acc, bitcast<f32>(ch.z), p.outMin - p.outZp, p.outMax - p.outZp);
  } else {
    v = requantize_tflite(acc, ch.z, ch.w);
  }
  return clamp(v + p.outZp, p.outMin, p.outMax);
}
