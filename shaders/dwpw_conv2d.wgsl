// Depthwise KHxKW convolution fused into the 1x1 convolution that reads it, as one GEMM whose A tile is
// produced on chip: y[M, N] = dw(x)[M, C] * w[C, N] (+ bias, clamp, optional residual add, clamp), where
// M = batch * outH * outW output pixels and dw(x) = clamp(depthwise(x) + dwBias, dwMin, dwMax).
// The depthwise output (the block's expanded activation) never goes to memory.
//
// A workgroup of T_WG_M x T_WG_N invocations (override constants) owns a (T_WG_M * TM) rows x
// (T_WG_N * TN) vec4-column output tile, as pointwise_conv2d.wgsl's main_tiled does. For each 16-channel
// K-slice it computes the depthwise outputs of its rows for those channels straight into the workgroup A
// tile (KH*KW vec4 taps per entry), stages the slice of w, and accumulates TM x TN vec4s per invocation.
// The only redundant work is the depthwise recompute across a row's column tiles (N / tile width times).
// Prepended by the TS side: `Params`, TM, TN (register tile), KH, KW, SH, SW (filter and strides, part of
// the pipeline key so the tap loops unroll).
//
// x is NHWC bound as vec4s. ALIGNED (C % 4 == 0): one vec4 load per tap; else per-channel loads. Channels
// past C in the last vec4 need no mask: w's rows past K are staged as zeros.

override T_WG_M: u32 = 16u;
override T_WG_N: u32 = 4u;
override ALIGNED: bool = true;
const T_BK4: u32 = 4u; // vec4s of K per slice (16 channels)
override T_A: u32 = T_WG_M * TM * T_BK4; // depthwise outputs: BM rows x T_BK4 vec4s
override T_B: u32 = T_BK4 * 4u * T_WG_N * TN; // w slice: 16 rows x BN4 vec4s
var<workgroup> ta: array<vec4<f32>, T_A>;
var<workgroup> tb: array<vec4<f32>, T_B>;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st4>;
@group(0) @binding(2) var<storage, read> dwf: array<st4>; // [KH, KW, C4]
@group(0) @binding(3) var<storage, read> dwb: array<st4>; // [C4]
@group(0) @binding(4) var<storage, read> w: array<st4>; // [K, N4]
@group(0) @binding(5) var<storage, read> bias: array<st4>; // [N4]
@group(0) @binding(6) var<storage, read_write> y: array<st>;
@group(0) @binding(7) var<storage, read_write> residual: array<st>;

// Four channels (k4) of input pixel `pix` (flat NHW index).
fn load_x(pix: u32, k4: u32) -> vec4<f32> {
  if (ALIGNED) { return vec4<f32>(x[pix * p.C4 + k4]); }
  let c = k4 * 4u;
  let i = pix * p.C + c;
  var v = vec4<f32>(f32(x[i / 4u][i % 4u]), 0.0, 0.0, 0.0);
  if (c + 1u < p.C) { v.y = f32(x[(i + 1u) / 4u][(i + 1u) % 4u]); }
  if (c + 2u < p.C) { v.z = f32(x[(i + 2u) / 4u][(i + 2u) % 4u]); }
  if (c + 3u < p.C) { v.w = f32(x[(i + 3u) / 4u][(i + 3u) % 4u]); }
  return v;
}

// The depthwise output of output pixel m (flat over batch, outH, outW), channels k4*4 .. k4*4+3.
fn depthwise(m: u32, k4: u32) -> vec4<f32> {
  let b = m / p.HW;
  let pix = m % p.HW;
  let oy = pix / p.outW;
  let ox = pix % p.outW;
  let iy0 = i32(oy * SH) - i32(p.padTop);
  let ix0 = i32(ox * SW) - i32(p.padLeft);
  var acc = vec4<f32>(dwb[k4]);
  for (var ky = 0u; ky < KH; ky++) {
    let iy = iy0 + i32(ky);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    let row = (b * p.inH + u32(iy)) * p.inW;
    for (var kx = 0u; kx < KW; kx++) {
      let ix = ix0 + i32(kx);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      acc += load_x(row + u32(ix), k4) * vec4<f32>(dwf[(ky * KW + kx) * p.C4 + k4]);
    }
  }
  return clamp(acc, vec4<f32>(p.dwMin), vec4<f32>(p.dwMax));
}

fn epilogue(m: u32, n4: u32, acc: vec4<f32>) {
  var v = clamp(acc + vec4<f32>(bias[n4]), vec4<f32>(p.clampMin), vec4<f32>(p.clampMax));
  let base = p.outBase + (m / p.HW) * p.outBatchStride + (m % p.HW) * p.outPixelStride + n4 * 4u;
  let n = n4 * 4u;
  if (p.hasResidual != 0u) {
    let r = m * p.N + n;
    var rv = vec4<f32>(f32(residual[r]), 0.0, 0.0, 0.0);
    if (n + 1u < p.N) { rv.y = f32(residual[r + 1u]); }
    if (n + 2u < p.N) { rv.z = f32(residual[r + 2u]); }
    if (n + 3u < p.N) { rv.w = f32(residual[r + 3u]); }
    v = clamp(v + rv, vec4<f32>(p.addMin), vec4<f32>(p.addMax));
  }
  y[base] = st(v.x);
  if (n + 1u < p.N) { y[base + 1u] = st(v.y); }
  if (n + 2u < p.N) { y[base + 2u] = st(v.z); }
  if (n + 3u < p.N) { y[base + 3u] = st(v.w); }
}

// No early return: every invocation reaches both barriers. A tile past the last (a rounded-up grid) computes
// zeros and writes nothing.
@compute @workgroup_size(T_WG_M * T_WG_N)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let bm = T_WG_M * TM;
  let bn4 = T_WG_N * TN;
  let threads = T_WG_M * T_WG_N;
  let tilesN = (p.N4 + bn4 - 1u) / bn4;
  let tile = wid.x + wid.y * nwg.x;
  let m0 = (tile / tilesN) * bm;
  let n0 = (tile % tilesN) * bn4;
  let tx = li % T_WG_N;
  let ty = li / T_WG_N;
  var acc: array<vec4<f32>, TM * TN>;
  for (var k0 = 0u; k0 < p.C4; k0 += T_BK4) {
    // Neighbouring invocations take neighbouring channel groups of one pixel: contiguous input reads.
    for (var i = li; i < T_A; i += threads) {
      let m = m0 + i / T_BK4;
      let k4 = k0 + i % T_BK4;
      var v = vec4<f32>(0.0);
      if (m < p.M && k4 < p.C4) { v = depthwise(m, k4); }
      ta[i] = v;
    }
    for (var i = li; i < T_B; i += threads) {
      let k = k0 * 4u + i / bn4;
      let c = n0 + i % bn4;
      var v = vec4<f32>(0.0);
      if (k < p.C && c < p.N4) { v = vec4<f32>(w[k * p.N4 + c]); }
      tb[i] = v;
    }
    workgroupBarrier();
    for (var k4 = 0u; k4 < T_BK4; k4++) {
      var b: array<vec4<f32>, TN * 4u>;
      for (var c = 0u; c < TN; c++) {
        let col = k4 * 4u * bn4 + tx + c * T_WG_N;
        b[c * 4u] = tb[col];
        b[c * 4u + 1u] = tb[col + bn4];
        b[c * 4u + 2u] = tb[col + 2u * bn4];
        b[c * 4u + 3u] = tb[col + 3u * bn4];
      }
      for (var r = 0u; r < TM; r++) {
        let a = ta[(ty + r * T_WG_M) * T_BK4 + k4];
        for (var c = 0u; c < TN; c++) {
          acc[r * TN + c] += a.x * b[c * 4u] + a.y * b[c * 4u + 1u] + a.z * b[c * 4u + 2u] + a.w * b[c * 4u + 3u];
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < TM; r++) {
    let m = m0 + ty + r * T_WG_M;
    for (var c = 0u; c < TN; c++) {
      let n4 = n0 + tx + c * T_WG_N;
      if (m < p.M && n4 < p.N4) { epilogue(m, n4, acc[r * TN + c]); }
    }
  }
}
