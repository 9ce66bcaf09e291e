// Depthwise convolution (depth multiplier 1), NHWC, filter [KH, KW, C4] with C zero-padded to a
// multiple of 4, fused bias and clamp. Activations are bound as vec4 arrays (buffers are 16-byte
// sized and aligned); the naive variant indexes components, so it serves any C.
//
//   main_naive   v1: one output value per invocation.
//   main_vec4    v2: one output pixel x 4 channels (needs C % 4 == 0).
//   main_blocked v3: 4 output pixels along x x 4 channels; the input row segment the 4 windows
//                share is loaded once per filter row (needs C % 4 == 0, KW <= 3, stride <= 2).
//   main_k3      v4: 3x3 with a compile-time stride and output tile, fully unrolled (see below).
// conv_common.wgsl (flat index, clamped store through the output view) is prepended.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st4>;
@group(0) @binding(2) var<storage, read> w: array<st4>;
@group(0) @binding(3) var<storage, read> bias: array<st4>;
@group(0) @binding(4) var<storage, read_write> y: array<st>;

// Storage (st, kernels/storage.ts) to f32 arithmetic.
fn xv(i: u32) -> vec4<f32> { return vec4<f32>(x[i]); }
fn wv(i: u32) -> vec4<f32> { return vec4<f32>(w[i]); }
fn bv(i: u32) -> vec4<f32> { return vec4<f32>(bias[i]); }

@compute @workgroup_size(WG_SIZE)
fn main_naive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let total = p.batch * p.outH * p.outW * p.outC;
  if (idx >= total) { return; }
  let c = idx % p.outC;
  let pix = idx / p.outC;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  var acc = f32(bias[c / 4u][c % 4u]);
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      let xi = ((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inC + c;
      let wi = (ky * p.kW + kx) * p.outC4 * 4u + c;
      acc += f32(x[xi / 4u][xi % 4u]) * f32(w[wi / 4u][wi % 4u]);
    }
  }
  y[p.outBase + b * p.outBatchStride + (oy * p.outW + ox) * p.outPixelStride + c] = st(clamp(acc, p.clampMin, p.clampMax));
}

@compute @workgroup_size(WG_SIZE)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let total = p.batch * p.outH * p.outW * p.outC4;
  if (idx >= total) { return; }
  let cg = idx % p.outC4;
  let pix = idx / p.outC4;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  var acc = bv(cg);
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      acc += xv(((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.outC4 + cg) * wv((ky * p.kW + kx) * p.outC4 + cg);
    }
  }
  store4(b, oy, ox, cg, acc);
}

const SEG: u32 = 9u; // 3 * max stride (2) + max KW (3): input pixels shared by 4 windows

@compute @workgroup_size(WG_SIZE)
fn main_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let outW4 = (p.outW + 3u) / 4u;
  let total = p.batch * p.outH * outW4 * p.outC4;
  if (idx >= total) { return; }
  let cg = idx % p.outC4;
  let t = idx / p.outC4;
  let ox0 = (t % outW4) * 4u;
  let oy = (t / outW4) % p.outH;
  let b = t / (outW4 * p.outH);
  let b0 = bv(cg);
  var acc = array<vec4<f32>, 4>(b0, b0, b0, b0);
  let ix0 = i32(ox0 * p.strideW) - i32(p.padLeft);
  let segLen = 3u * p.strideW + p.kW;
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let rowBase = (b * p.inH + u32(iy)) * p.inW;
    var seg: array<vec4<f32>, SEG>;
    for (var s = 0u; s < segLen; s++) {
      let ix = ix0 + i32(s);
      var v = vec4<f32>(0.0);
      if (ix >= 0 && ix < i32(p.inW)) { v = xv((rowBase + u32(ix)) * p.outC4 + cg); }
      seg[s] = v;
    }
    for (var kx = 0u; kx < p.kW; kx++) {
      let wk = wv((ky * p.kW + kx) * p.outC4 + cg);
      for (var j = 0u; j < 4u; j++) {
        acc[j] += seg[j * p.strideW + kx] * wk;
      }
    }
  }
  for (var j = 0u; j < 4u; j++) {
    if (ox0 + j < p.outW) { store4(b, oy, ox0 + j, cg, acc[j]); }
  }
}

// v4 (main_k3): 3x3 only, with the stride S and the output tile (TW pixels along x, TH rows) compile-time
// constants (prepended by the TS side, part of the pipeline key) so every loop has a constant trip count:
// the compiler unrolls them and the input window lives in registers instead of an indexed private array.
// TW x TH output pixels x 4 channels per invocation. Taller tiles pay on JITs where every storage load is
// a per-lane gather (lavapipe): a 4x1 tile loads 6 input pixels per output row, a 4x4 one 3.
// Needs C % 4 == 0.
const SEG_W: u32 = (TW - 1u) * S + 3u;
const SEG_H: u32 = (TH - 1u) * S + 3u;

@compute @workgroup_size(WG_SIZE)
fn main_k3(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let tilesX = (p.outW + TW - 1u) / TW;
  let tilesY = (p.outH + TH - 1u) / TH;
  let total = p.batch * tilesY * tilesX * p.outC4;
  if (idx >= total) { return; }
  let cg = idx % p.outC4;
  let t = idx / p.outC4;
  let ox0 = (t % tilesX) * TW;
  let oy0 = ((t / tilesX) % tilesY) * TH;
  let b = t / (tilesX * tilesY);
  var wk: array<vec4<f32>, 9>;
  for (var k = 0u; k < 9u; k++) { wk[k] = wv(k * p.outC4 + cg); }
  let b0 = bv(cg);
  var acc: array<vec4<f32>, TW * TH>;
  for (var o = 0u; o < TW * TH; o++) { acc[o] = b0; }
  let ix0 = i32(ox0 * S) - i32(p.padLeft);
  let lastX = i32(p.inW) - 1;
  for (var r = 0u; r < SEG_H; r++) {
    let iy = i32(oy0 * S + r) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (b * p.inH + u32(iy)) * p.inW;
    var s: array<vec4<f32>, SEG_W>;
    for (var j = 0u; j < SEG_W; j++) {
      let ix = ix0 + i32(j);
      let v = xv((row + u32(clamp(ix, 0, lastX))) * p.outC4 + cg);
      s[j] = select(vec4<f32>(0.0), v, ix >= 0 && ix <= lastX);
    }
    // Input row r feeds output row ty through filter row r - ty * S when that is 0, 1 or 2.
    for (var ty = 0u; ty < TH; ty++) {
      let ky = i32(r) - i32(ty * S);
      if (ky < 0 || ky > 2) { continue; }
      let w0 = wk[u32(ky) * 3u];
      let w1 = wk[u32(ky) * 3u + 1u];
      let w2 = wk[u32(ky) * 3u + 2u];
      for (var tx = 0u; tx < TW; tx++) {
        acc[ty * TW + tx] += s[tx * S] * w0 + s[tx * S + 1u] * w1 + s[tx * S + 2u] * w2;
      }
    }
  }
  for (var ty = 0u; ty < TH; ty++) {
    for (var tx = 0u; tx < TW; tx++) {
      if (oy0 + ty < p.outH && ox0 + tx < p.outW) { store4(b, oy0 + ty, ox0 + tx, cg, acc[ty * TW + tx]); }
    }
  }
}

// v5 (main_k3s1u): main_k3 with stride 1 written out by hand (no private arrays, no tile loops),
// for JITs that do not unroll (SwiftShader's Subzero).
@compute @workgroup_size(WG_SIZE)
fn main_k3s1u(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let outW4 = (p.outW + 3u) / 4u;
  let total = p.batch * p.outH * outW4 * p.outC4;
  if (idx >= total) { return; }
  let cg = idx % p.outC4;
  let t = idx / p.outC4;
  let ox0 = (t % outW4) * 4u;
  let oy = (t / outW4) % p.outH;
  let b = t / (outW4 * p.outH);
  var a0 = bv(cg); var a1 = a0; var a2 = a0; var a3 = a0;
  let ix0 = i32(ox0 * 1u) - i32(p.padLeft);
  let lastX = i32(p.inW) - 1;
  for (var ky = 0u; ky < 3u; ky++) {
    let iy = i32(oy * 1u + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (b * p.inH + u32(iy)) * p.inW;
    let s0 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 0, 0, lastX))) * p.outC4 + cg), ix0 + 0 >= 0 && ix0 + 0 <= lastX);
    let s1 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 1, 0, lastX))) * p.outC4 + cg), ix0 + 1 >= 0 && ix0 + 1 <= lastX);
    let s2 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 2, 0, lastX))) * p.outC4 + cg), ix0 + 2 >= 0 && ix0 + 2 <= lastX);
    let s3 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 3, 0, lastX))) * p.outC4 + cg), ix0 + 3 >= 0 && ix0 + 3 <= lastX);
    let s4 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 4, 0, lastX))) * p.outC4 + cg), ix0 + 4 >= 0 && ix0 + 4 <= lastX);
    let s5 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 5, 0, lastX))) * p.outC4 + cg), ix0 + 5 >= 0 && ix0 + 5 <= lastX);
    let w0 = wv((ky * 3u) * p.outC4 + cg);
    let w1 = wv((ky * 3u + 1u) * p.outC4 + cg);
    let w2 = wv((ky * 3u + 2u) * p.outC4 + cg);
    a0 += s0 * w0 + s1 * w1 + s2 * w2;
    a1 += s1 * w0 + s2 * w1 + s3 * w2;
    a2 += s2 * w0 + s3 * w1 + s4 * w2;
    a3 += s3 * w0 + s4 * w1 + s5 * w2;
  }
  store4(b, oy, ox0, cg, a0);
  if (ox0 + 1u < p.outW) { store4(b, oy, ox0 + 1u, cg, a1); }
  if (ox0 + 2u < p.outW) { store4(b, oy, ox0 + 2u, cg, a2); }
  if (ox0 + 3u < p.outW) { store4(b, oy, ox0 + 3u, cg, a3); }
}

// v5 (main_k3s2u): main_k3 with stride 2 written out by hand (no private arrays, no tile loops),
// for JITs that do not unroll (SwiftShader's Subzero).
@compute @workgroup_size(WG_SIZE)
fn main_k3s2u(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let outW4 = (p.outW + 3u) / 4u;
  let total = p.batch * p.outH * outW4 * p.outC4;
  if (idx >= total) { return; }
  let cg = idx % p.outC4;
  let t = idx / p.outC4;
  let ox0 = (t % outW4) * 4u;
  let oy = (t / outW4) % p.outH;
  let b = t / (outW4 * p.outH);
  var a0 = bv(cg); var a1 = a0; var a2 = a0; var a3 = a0;
  let ix0 = i32(ox0 * 2u) - i32(p.padLeft);
  let lastX = i32(p.inW) - 1;
  for (var ky = 0u; ky < 3u; ky++) {
    let iy = i32(oy * 2u + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (b * p.inH + u32(iy)) * p.inW;
    let s0 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 0, 0, lastX))) * p.outC4 + cg), ix0 + 0 >= 0 && ix0 + 0 <= lastX);
    let s1 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 1, 0, lastX))) * p.outC4 + cg), ix0 + 1 >= 0 && ix0 + 1 <= lastX);
    let s2 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 2, 0, lastX))) * p.outC4 + cg), ix0 + 2 >= 0 && ix0 + 2 <= lastX);
    let s3 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 3, 0, lastX))) * p.outC4 + cg), ix0 + 3 >= 0 && ix0 + 3 <= lastX);
    let s4 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 4, 0, lastX))) * p.outC4 + cg), ix0 + 4 >= 0 && ix0 + 4 <= lastX);
    let s5 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 5, 0, lastX))) * p.outC4 + cg), ix0 + 5 >= 0 && ix0 + 5 <= lastX);
    let s6 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 6, 0, lastX))) * p.outC4 + cg), ix0 + 6 >= 0 && ix0 + 6 <= lastX);
    let s7 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 7, 0, lastX))) * p.outC4 + cg), ix0 + 7 >= 0 && ix0 + 7 <= lastX);
    let s8 = select(vec4<f32>(0.0), xv((row + u32(clamp(ix0 + 8, 0, lastX))) * p.outC4 + cg), ix0 + 8 >= 0 && ix0 + 8 <= lastX);
    let w0 = wv((ky * 3u) * p.outC4 + cg);
    let w1 = wv((ky * 3u + 1u) * p.outC4 + cg);
    let w2 = wv((ky * 3u + 2u) * p.outC4 + cg);
    a0 += s0 * w0 + s1 * w1 + s2 * w2;
    a1 += s2 * w0 + s3 * w1 + s4 * w2;
    a2 += s4 * w0 + s5 * w1 + s6 * w2;
    a3 += s6 * w0 + s7 * w1 + s8 * w2;
  }
  store4(b, oy, ox0, cg, a0);
  if (ox0 + 1u < p.outW) { store4(b, oy, ox0 + 1u, cg, a1); }
  if (ox0 + 2u < p.outW) { store4(b, oy, ox0 + 2u, cg, a2); }
  if (ox0 + 3u < p.outW) { store4(b, oy, ox0 + 3u, cg, a3); }
}
