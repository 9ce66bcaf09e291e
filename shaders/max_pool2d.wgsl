// Max pooling over KH x KW windows, NHWC, TensorFlow SAME/VALID padding: padded taps take no part in
// the max (as in TFLite's MAX_POOL_2D and ONNX's MaxPool). A fused clamp, and the output written
// through the output view, so a pool can write its slice of a concatenation.
//
//   main_naive v1: one output value per invocation (any C).
//   main_vec4  v2: one output pixel x 4 channels (needs C % 4 == 0).
// conv_common.wgsl (flat index, clamped store through the output view) is prepended.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st4>;
@group(0) @binding(2) var<storage, read_write> y: array<st>;

// Every window holds a real tap (SAME never pads a whole window), so this never reaches the output.
const LOWEST: f32 = -3.40282346638528859812e+38f;

@compute @workgroup_size(WG_SIZE)
fn main_naive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= p.batch * p.outH * p.outW * p.outC) { return; }
  let c = idx % p.outC;
  let pix = idx / p.outC;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  var m = LOWEST;
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      let xi = ((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inC + c;
      m = max(m, f32(x[xi / 4u][xi % 4u]));
    }
  }
  y[p.outBase + b * p.outBatchStride + (oy * p.outW + ox) * p.outPixelStride + c] = st(clamp(m, p.clampMin, p.clampMax));
}

@compute @workgroup_size(WG_SIZE)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= p.batch * p.outH * p.outW * p.outC4) { return; }
  let cg = idx % p.outC4;
  let pix = idx / p.outC4;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  var m = vec4<f32>(LOWEST);
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      m = max(m, vec4<f32>(x[((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.outC4 + cg]));
    }
  }
  store4(b, oy, ox, cg, m);
}
