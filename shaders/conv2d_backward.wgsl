// Backward of conv2d.wgsl (NHWC, filter [KH, KW, Cin, Cout4]) as GEMMs over im2col rows: row m is
// an output pixel, column k = (ky * KW + kx) * Cin + ci one input value of its window, so the
// filter is a [K, Cout4] matrix and the 1x1 backward GEMMs (pointwise_conv2d_backward.wgsl) apply:
//   filter gradient: main_im2col(x) -> cols, then dw += cols^T * dy;
//   input gradient:  dcols = dy * w^T, then main_col2im adds each input value's window entries.
// Unlike a direct loop over the input pixels, both GEMMs are dense, so a stride of 2 costs no
// skipped taps.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
// main_im2col: x -> cols; main_col2im: dcols -> dx (added into).
@group(0) @binding(1) var<storage, read_write> inp: array<f32>;
@group(0) @binding(2) var<storage, read_write> outp: array<f32>;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG_SIZE;
}

// One im2col entry per invocation: cols[m, (ky, kx, ci)] = x at the tap, 0 in the padding.
@compute @workgroup_size(WG_SIZE)
fn main_im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let K = p.kH * p.kW * p.inC;
  if (idx >= p.batch * p.outH * p.outW * K) { return; }
  let k = idx % K;
  let m = idx / K;
  let ci = k % p.inC;
  let tap = k / p.inC;
  let ox = m % p.outW;
  let oy = (m / p.outW) % p.outH;
  let b = m / (p.outW * p.outH);
  let iy = i32(oy * p.strideH + tap / p.kW) - i32(p.padTop);
  let ix = i32(ox * p.strideW + tap % p.kW) - i32(p.padLeft);
  var v = 0.0;
  if (iy >= 0 && iy < i32(p.inH) && ix >= 0 && ix < i32(p.inW)) {
    v = inp[((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inC + ci];
  }
  outp[idx] = v;
}

// The output coordinate whose window puts tap k on input coordinate i, or -1 when none does.
fn window_of(i: u32, k: u32, pad: u32, stride: u32, size: u32) -> i32 {
  let t = i32(i + pad) - i32(k);
  if (t < 0 || t % i32(stride) != 0) { return -1; }
  let o = t / i32(stride);
  return select(-1, o, o < i32(size));
}

// One input value per invocation: dx[b, iy, ix, ci] += the dcols entries of every window tap on it.
@compute @workgroup_size(WG_SIZE)
fn main_col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= p.batch * p.inH * p.inW * p.inC) { return; }
  let ci = idx % p.inC;
  let pix = idx / p.inC;
  let ix = pix % p.inW;
  let iy = (pix / p.inW) % p.inH;
  let b = pix / (p.inW * p.inH);
  let K = p.kH * p.kW * p.inC;
  var acc = 0.0;
  for (var ky = 0u; ky < p.kH; ky++) {
    let oy = window_of(iy, ky, p.padTop, p.strideH, p.outH);
    if (oy < 0) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ox = window_of(ix, kx, p.padLeft, p.strideW, p.outW);
      if (ox < 0) { continue; }
      let m = (b * p.outH + u32(oy)) * p.outW + u32(ox);
      acc += inp[m * K + (ky * p.kW + kx) * p.inC + ci];
    }
  }
  outp[idx] += acc;
}
