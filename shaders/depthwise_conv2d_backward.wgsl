// Backward of depthwise_conv2d.wgsl (multiplier 1): NHWC activations, filter [KH, KW, C4] (C
// zero-padded to a multiple of 4). `dy` is the gradient of the output after the activation mask,
// read through the forward pass's output view. Both entry points add into their output (+=), as in
// conv2d_backward.wgsl.
//
//   main_dx: one input value per invocation: dx[b, iy, ix, c] += dy[b, oy, ox, c] * w[ky, kx, c]
//            over the taps (ky, kx) that window (oy, ox) places on (iy, ix).
//   main_dw: one filter value per invocation: dw[ky, kx, c] += x[b, iy, ix, c] * dy[b, oy, ox, c]
//            over the batch and the output pixels.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
// The filter for main_dx, the forward input for main_dw.
@group(0) @binding(2) var<storage, read_write> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG_SIZE;
}

fn dy_pixel(b: u32, oy: u32, ox: u32) -> u32 {
  return p.dyBase + b * p.dyBatchStride + (oy * p.outW + ox) * p.dyPixelStride;
}

fn window_of(i: u32, k: u32, pad: u32, stride: u32, size: u32) -> i32 {
  let t = i32(i + pad) - i32(k);
  if (t < 0 || t % i32(stride) != 0) { return -1; }
  let o = t / i32(stride);
  return select(-1, o, o < i32(size));
}

@compute @workgroup_size(WG_SIZE)
fn main_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= p.batch * p.inH * p.inW * p.inC) { return; }
  let c = idx % p.inC;
  let pix = idx / p.inC;
  let ix = pix % p.inW;
  let iy = (pix / p.inW) % p.inH;
  let b = pix / (p.inW * p.inH);
  let row = p.outC4 * 4u;
  var acc = 0.0;
  for (var ky = 0u; ky < p.kH; ky++) {
    let oy = window_of(iy, ky, p.padTop, p.strideH, p.outH);
    if (oy < 0) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ox = window_of(ix, kx, p.padLeft, p.strideW, p.outW);
      if (ox < 0) { continue; }
      acc += dy[dy_pixel(b, u32(oy), u32(ox)) + c] * src[(ky * p.kW + kx) * row + c];
    }
  }
  grad[idx] += acc;
}

@compute @workgroup_size(WG_SIZE)
fn main_dw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= p.kH * p.kW * p.inC) { return; }
  let c = idx % p.inC;
  let tap = idx / p.inC;
  let ky = tap / p.kW;
  let kx = tap % p.kW;
  var acc = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    for (var oy = 0u; oy < p.outH; oy++) {
      let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
      if (iy < 0 || iy >= i32(p.inH)) { continue; }
      for (var ox = 0u; ox < p.outW; ox++) {
        let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
        if (ix < 0 || ix >= i32(p.inW)) { continue; }
        acc += src[((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inC + c] * dy[dy_pixel(b, oy, ox) + c];
      }
    }
  }
  grad[tap * p.outC4 * 4u + c] += acc;
}
