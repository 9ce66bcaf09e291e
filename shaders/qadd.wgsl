// Quantized element-wise ADD of two same-shaped 8-bit tensors packed four to a u32 (qcommon.wgsl
// prepended): TFLite's AddElementwise (inputs shifted left 20 bits, each rescaled by a fixed-point
// multiplier, summed, rescaled to the output) or XNNPACK's vadd ((bias + a * aMul + b * bMul) >> shift).

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<u32>;
@group(0) @binding(2) var<storage, read_write> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

fn add_value(va: i32, vb: i32) -> i32 {
  if (REQUANT_XNNPACK) {
    return (p.xBias + va * p.xAMul + vb * p.xBMul) >> u32(p.xShift);
  }
  let sa = requantize_tflite((va - p.aZp) << u32(p.leftShift), p.aMul, p.aShift);
  let sb = requantize_tflite((vb - p.bZp) << u32(p.leftShift), p.bMul, p.bShift);
  return requantize_tflite(sa + sb, p.outMul, p.outShift);
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t >= (p.count + 3u) / 4u) { return; }
  let av = a[t];
  let bv = b[t];
  var out: vec4<i32>;
  for (var j = 0u; j < 4u; j++) {
    out[j] = clamp(add_value(lane_value(av, j), lane_value(bv, j)) + p.outZp, p.outMin, p.outMax);
  }
  y[t] = pack4(out);
}
