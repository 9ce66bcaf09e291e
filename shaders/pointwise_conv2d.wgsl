// 1x1 convolution as a GEMM: y[M, N] = xv(M, K) * wv(K, N) (+ bias, clamp, optional residual add,
// clamp). M = batch*H*W pixels, K = input channels, N = output channels. w is [K, N4] with N
// zero-padded to a multiple of 4. x is bound as vec4 rows (K % 4 == 0 for the fast variants). Buffers
// hold the storage type st/st4 (kernels/storage.ts): loads convert to f32, sums are f32, stores convert back.
// The residual skip tensor (an inverted-residual block's input) is added in the epilogue, so a
// whole block runs without a separate add pass. Epilogue:
//   v = clamp(acc + bias, clampMin, clampMax); if residual: v = clamp(v + r, addMin, addMax).
//
//   main_naive   v1: one output value per invocation (any K).
//   main_blocked v2: register-blocked, TM rows x TN vec4 columns per invocation (TM, TN are
//                    consts prepended by the TS side; they are part of the pipeline key).
//   main_shared  v3: classic workgroup-shared-memory tiling (32x32 tile, 16-wide K slabs),
//                    kept for measurement: barriers are slow on software drivers.
//   main_tiled   v6: shared-memory tiling sized for large GPUs: (T_WG_M*TM) x (T_WG_N*TN) vec4
//                    output tiles (64x64, 128x64 channels), workgroup grid as overrides.
//   main_subgroup v7: main_blocked's register tile with the input rows shared across the subgroup by
//                    subgroupShuffle (pointwise_conv2d_subgroup.wgsl, `subgroups` feature).

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st4>;
@group(0) @binding(2) var<storage, read> w: array<st4>;
@group(0) @binding(3) var<storage, read> bias: array<st4>;
@group(0) @binding(4) var<storage, read_write> y: array<st>;
@group(0) @binding(5) var<storage, read_write> residual: array<st>;

// Storage (st, kernels/storage.ts) to f32 arithmetic; workgroup tiles hold f32.
fn xv(i: u32) -> vec4<f32> { return vec4<f32>(x[i]); }
fn wv(i: u32) -> vec4<f32> { return vec4<f32>(w[i]); }

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg;
}

fn epilogue(m: u32, n4: u32, acc: vec4<f32>) {
  var v = clamp(acc + vec4<f32>(bias[n4]), vec4<f32>(p.clampMin), vec4<f32>(p.clampMax));
  let img = m / p.HW;
  let base = p.outBase + img * p.outBatchStride + (m % p.HW) * p.outPixelStride + n4 * 4u;
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

@compute @workgroup_size(WG_SIZE)
fn main_naive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg, WG_SIZE);
  if (idx >= p.M * p.N) { return; }
  let n = idx % p.N;
  let m = idx / p.N;
  var acc = f32(bias[n / 4u][n % 4u]);
  for (var k = 0u; k < p.K; k++) {
    let xi = m * p.K + k;
    let wi = k * p.N4 * 4u + n;
    acc += f32(x[xi / 4u][xi % 4u]) * f32(w[wi / 4u][wi % 4u]);
  }
  var v = clamp(acc, p.clampMin, p.clampMax);
  if (p.hasResidual != 0u) { v = clamp(v + f32(residual[m * p.N + n]), p.addMin, p.addMax); }
  y[p.outBase + (m / p.HW) * p.outBatchStride + (m % p.HW) * p.outPixelStride + n] = st(v);
}

@compute @workgroup_size(WG_SIZE)
fn main_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg, WG_SIZE);
  let tilesN = (p.N4 + TN - 1u) / TN;
  let tilesM = (p.M + TM - 1u) / TM;
  if (idx >= tilesM * tilesN) { return; }
  let n40 = (idx % tilesN) * TN;
  let m0 = (idx / tilesN) * TM;
  var acc: array<vec4<f32>, TM * TN>;
  var rows: array<u32, TM>;
  for (var r = 0u; r < TM; r++) { rows[r] = min(m0 + r, p.M - 1u) * p.K4; }
  var cols: array<u32, TN>;
  for (var c = 0u; c < TN; c++) { cols[c] = min(n40 + c, p.N4 - 1u); }
  for (var k4 = 0u; k4 < p.K4; k4++) {
    let wrow = k4 * 4u * p.N4;
    var b: array<vec4<f32>, TN * 4u>;
    for (var c = 0u; c < TN; c++) {
      b[c * 4u] = wv(wrow + cols[c]);
      b[c * 4u + 1u] = wv(wrow + p.N4 + cols[c]);
      b[c * 4u + 2u] = wv(wrow + 2u * p.N4 + cols[c]);
      b[c * 4u + 3u] = wv(wrow + 3u * p.N4 + cols[c]);
    }
    for (var r = 0u; r < TM; r++) {
      let a = xv(rows[r] + k4);
      for (var c = 0u; c < TN; c++) {
        acc[r * TN + c] += a.x * b[c * 4u] + a.y * b[c * 4u + 1u] + a.z * b[c * 4u + 2u] + a.w * b[c * 4u + 3u];
      }
    }
  }
  for (var r = 0u; r < TM; r++) {
    if (m0 + r >= p.M) { break; }
    for (var c = 0u; c < TN; c++) {
      if (n40 + c < p.N4) { epilogue(m0 + r, n40 + c, acc[r * TN + c]); }
    }
  }
}

const S_TM: u32 = 32u;  // rows per workgroup tile
const S_TN4: u32 = 8u;  // vec4 columns per workgroup tile (32 channels)
const S_TK4: u32 = 4u;  // vec4s of K per slab (16 channels)
var<workgroup> sa: array<vec4<f32>, 128>; // S_TM x S_TK4
var<workgroup> sb: array<vec4<f32>, 128>; // (S_TK4 * 4) x S_TN4

// 64 invocations (8 x 8): each computes 4 rows x 1 vec4 column of the 32x32 tile.
@compute @workgroup_size(64)
fn main_shared(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tilesN = (p.N4 + S_TN4 - 1u) / S_TN4;
  let tile = wid.x + wid.y * nwg.x;
  let tm = (tile / tilesN) * S_TM;
  let tn = (tile % tilesN) * S_TN4;
  let tx = li % 8u;  // column (vec4) within the tile
  let ty = li / 8u;  // row group within the tile
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  let live = tm < p.M;
  for (var k0 = 0u; k0 < p.K4; k0 += S_TK4) {
    for (var i = li; i < 128u; i += 64u) {
      let r = i / S_TK4;
      let kk = k0 + i % S_TK4;
      var v = vec4<f32>(0.0);
      if (live && tm + r < p.M && kk < p.K4) { v = xv((tm + r) * p.K4 + kk); }
      sa[i] = v;
      let kr = i / S_TN4;
      let cc = tn + i % S_TN4;
      var u = vec4<f32>(0.0);
      if (k0 * 4u + kr < p.K && cc < p.N4) { u = wv((k0 * 4u + kr) * p.N4 + cc); }
      sb[i] = u;
    }
    workgroupBarrier();
    for (var k = 0u; k < S_TK4; k++) {
      let b0 = sb[(k * 4u) * S_TN4 + tx];
      let b1 = sb[(k * 4u + 1u) * S_TN4 + tx];
      let b2 = sb[(k * 4u + 2u) * S_TN4 + tx];
      let b3 = sb[(k * 4u + 3u) * S_TN4 + tx];
      for (var r = 0u; r < 4u; r++) {
        let a = sa[(ty * 4u + r) * S_TK4 + k];
        acc[r] += a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3;
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    let m = tm + ty * 4u + r;
    if (m < p.M && tn + tx < p.N4) { epilogue(m, tn + tx, acc[r]); }
  }
}

// v4 (main_unrolled4x2): the 4 x 2 register tile written out by hand: no private arrays or
// loops over the tile. JITs that do not unroll (SwiftShader's Subzero) keep every accumulator in
// a register this way instead of spilling indexed arrays to memory.
@compute @workgroup_size(WG_SIZE)
fn main_unrolled4x2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg, WG_SIZE);
  let tilesN = (p.N4 + 1u) / 2u;
  let tilesM = (p.M + 3u) / 4u;
  if (idx >= tilesM * tilesN) { return; }
  let c0 = (idx % tilesN) * 2u;
  let c1 = min(c0 + 1u, p.N4 - 1u);
  let m0 = (idx / tilesN) * 4u;
  let r0 = min(m0, p.M - 1u) * p.K4;
  let r1 = min(m0 + 1u, p.M - 1u) * p.K4;
  let r2 = min(m0 + 2u, p.M - 1u) * p.K4;
  let r3 = min(m0 + 3u, p.M - 1u) * p.K4;
  var a00 = vec4<f32>(0.0); var a01 = vec4<f32>(0.0);
  var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0);
  var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0);
  var a30 = vec4<f32>(0.0); var a31 = vec4<f32>(0.0);
  var wr = 0u;
  for (var k4 = 0u; k4 < p.K4; k4++) {
    let b00 = wv(wr + c0); let b01 = wv(wr + p.N4 + c0); let b02 = wv(wr + 2u * p.N4 + c0); let b03 = wv(wr + 3u * p.N4 + c0);
    let b10 = wv(wr + c1); let b11 = wv(wr + p.N4 + c1); let b12 = wv(wr + 2u * p.N4 + c1); let b13 = wv(wr + 3u * p.N4 + c1);
    let x0 = xv(r0 + k4); let x1 = xv(r1 + k4); let x2 = xv(r2 + k4); let x3 = xv(r3 + k4);
    a00 += x0.x * b00 + x0.y * b01 + x0.z * b02 + x0.w * b03;
    a01 += x0.x * b10 + x0.y * b11 + x0.z * b12 + x0.w * b13;
    a10 += x1.x * b00 + x1.y * b01 + x1.z * b02 + x1.w * b03;
    a11 += x1.x * b10 + x1.y * b11 + x1.z * b12 + x1.w * b13;
    a20 += x2.x * b00 + x2.y * b01 + x2.z * b02 + x2.w * b03;
    a21 += x2.x * b10 + x2.y * b11 + x2.z * b12 + x2.w * b13;
    a30 += x3.x * b00 + x3.y * b01 + x3.z * b02 + x3.w * b03;
    a31 += x3.x * b10 + x3.y * b11 + x3.z * b12 + x3.w * b13;
    wr += 4u * p.N4;
  }
  let second = c0 + 1u < p.N4;
  epilogue(m0, c0, a00);
  if (second) { epilogue(m0, c1, a01); }
  if (m0 + 1u < p.M) { epilogue(m0 + 1u, c0, a10); if (second) { epilogue(m0 + 1u, c1, a11); } }
  if (m0 + 2u < p.M) { epilogue(m0 + 2u, c0, a20); if (second) { epilogue(m0 + 2u, c1, a21); } }
  if (m0 + 3u < p.M) { epilogue(m0 + 3u, c0, a30); if (second) { epilogue(m0 + 3u, c1, a31); } }
}

// v5 (main_unrolled8x2): the same, 8 rows x 2 vec4 columns (16 accumulators).
@compute @workgroup_size(WG_SIZE)
fn main_unrolled8x2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg, WG_SIZE);
  let tilesN = (p.N4 + 1u) / 2u;
  let tilesM = (p.M + 7u) / 8u;
  if (idx >= tilesM * tilesN) { return; }
  let c0 = (idx % tilesN) * 2u;
  let c1 = min(c0 + 1u, p.N4 - 1u);
  let m0 = (idx / tilesN) * 8u;
  let r0 = min(m0 + 0u, p.M - 1u) * p.K4;
  let r1 = min(m0 + 1u, p.M - 1u) * p.K4;
  let r2 = min(m0 + 2u, p.M - 1u) * p.K4;
  let r3 = min(m0 + 3u, p.M - 1u) * p.K4;
  let r4 = min(m0 + 4u, p.M - 1u) * p.K4;
  let r5 = min(m0 + 5u, p.M - 1u) * p.K4;
  let r6 = min(m0 + 6u, p.M - 1u) * p.K4;
  let r7 = min(m0 + 7u, p.M - 1u) * p.K4;
  var a00 = vec4<f32>(0.0); var a01 = vec4<f32>(0.0);
  var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0);
  var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0);
  var a30 = vec4<f32>(0.0); var a31 = vec4<f32>(0.0);
  var a40 = vec4<f32>(0.0); var a41 = vec4<f32>(0.0);
  var a50 = vec4<f32>(0.0); var a51 = vec4<f32>(0.0);
  var a60 = vec4<f32>(0.0); var a61 = vec4<f32>(0.0);
  var a70 = vec4<f32>(0.0); var a71 = vec4<f32>(0.0);
  var wr = 0u;
  for (var k4 = 0u; k4 < p.K4; k4++) {
    let b00 = wv(wr + c0); let b01 = wv(wr + p.N4 + c0); let b02 = wv(wr + 2u * p.N4 + c0); let b03 = wv(wr + 3u * p.N4 + c0);
    let b10 = wv(wr + c1); let b11 = wv(wr + p.N4 + c1); let b12 = wv(wr + 2u * p.N4 + c1); let b13 = wv(wr + 3u * p.N4 + c1);
    let x0 = xv(r0 + k4);
    a00 += x0.x * b00 + x0.y * b01 + x0.z * b02 + x0.w * b03;
    a01 += x0.x * b10 + x0.y * b11 + x0.z * b12 + x0.w * b13;
    let x1 = xv(r1 + k4);
    a10 += x1.x * b00 + x1.y * b01 + x1.z * b02 + x1.w * b03;
    a11 += x1.x * b10 + x1.y * b11 + x1.z * b12 + x1.w * b13;
    let x2 = xv(r2 + k4);
    a20 += x2.x * b00 + x2.y * b01 + x2.z * b02 + x2.w * b03;
    a21 += x2.x * b10 + x2.y * b11 + x2.z * b12 + x2.w * b13;
    let x3 = xv(r3 + k4);
    a30 += x3.x * b00 + x3.y * b01 + x3.z * b02 + x3.w * b03;
    a31 += x3.x * b10 + x3.y * b11 + x3.z * b12 + x3.w * b13;
    let x4 = xv(r4 + k4);
    a40 += x4.x * b00 + x4.y * b01 + x4.z * b02 + x4.w * b03;
    a41 += x4.x * b10 + x4.y * b11 + x4.z * b12 + x4.w * b13;
    let x5 = xv(r5 + k4);
    a50 += x5.x * b00 + x5.y * b01 + x5.z * b02 + x5.w * b03;
    a51 += x5.x * b10 + x5.y * b11 + x5.z * b12 + x5.w * b13;
    let x6 = xv(r6 + k4);
    a60 += x6.x * b00 + x6.y * b01 + x6.z * b02 + x6.w * b03;
    a61 += x6.x * b10 + x6.y * b11 + x6.z * b12 + x6.w * b13;
    let x7 = xv(r7 + k4);
    a70 += x7.x * b00 + x7.y * b01 + x7.z * b02 + x7.w * b03;
    a71 += x7.x * b10 + x7.y * b11 + x7.z * b12 + x7.w * b13;
    wr += 4u * p.N4;
  }
  let second = c0 + 1u < p.N4;
  { epilogue(m0 + 0u, c0, a00); if (second) { epilogue(m0 + 0u, c1, a01); } }
  if (m0 + 1u < p.M) { epilogue(m0 + 1u, c0, a10); if (second) { epilogue(m0 + 1u, c1, a11); } }
  if (m0 + 2u < p.M) { epilogue(m0 + 2u, c0, a20); if (second) { epilogue(m0 + 2u, c1, a21); } }
  if (m0 + 3u < p.M) { epilogue(m0 + 3u, c0, a30); if (second) { epilogue(m0 + 3u, c1, a31); } }
  if (m0 + 4u < p.M) { epilogue(m0 + 4u, c0, a40); if (second) { epilogue(m0 + 4u, c1, a41); } }
  if (m0 + 5u < p.M) { epilogue(m0 + 5u, c0, a50); if (second) { epilogue(m0 + 5u, c1, a51); } }
  if (m0 + 6u < p.M) { epilogue(m0 + 6u, c0, a60); if (second) { epilogue(m0 + 6u, c1, a61); } }
  if (m0 + 7u < p.M) { epilogue(m0 + 7u, c0, a70); if (second) { epilogue(m0 + 7u, c1, a71); } }
}

// v6 (main_tiled): a workgroup of T_WG_M x T_WG_N invocations (override constants) computes a
// (T_WG_M * TM) rows x (T_WG_N * TN) vec4-column output tile. Each 16-channel K-slice of x and w is
// staged once through workgroup memory and then read by every invocation that needs it (on a GPU
// that is what turns a bandwidth-bound GEMM into a compute-bound one); each invocation keeps TM x TN
// vec4 accumulators in registers. Rows and columns are interleaved across invocations (row = ty +
// r * T_WG_M, column = tx + c * T_WG_N): neighbouring invocations read neighbouring shared words and
// write neighbouring outputs. No early return: every invocation reaches both barriers.
override T_WG_M: u32 = 16u;
override T_WG_N: u32 = 16u;
const T_BK4: u32 = 4u; // vec4s of K per slice (16 channels)
override T_A: u32 = T_WG_M * TM * T_BK4; // x slice: BM rows x T_BK4 vec4s
override T_B: u32 = T_BK4 * 4u * T_WG_N * TN; // w slice: 16 rows x BN4 vec4s
var<workgroup> ta: array<vec4<f32>, T_A>;
var<workgroup> tb: array<vec4<f32>, T_B>;

@compute @workgroup_size(T_WG_M * T_WG_N)
fn main_tiled(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let bm = T_WG_M * TM;
  let bn4 = T_WG_N * TN;
  let threads = T_WG_M * T_WG_N;
  let tilesN = (p.N4 + bn4 - 1u) / bn4;
  let tile = wid.x + wid.y * nwg.x;
  let m0 = (tile / tilesN) * bm; // past the last tile (a rounded-up grid) m0 >= M: loads zeros, writes nothing
  let n0 = (tile % tilesN) * bn4;
  let tx = li % T_WG_N;
  let ty = li / T_WG_N;
  var acc: array<vec4<f32>, TM * TN>;
  for (var k0 = 0u; k0 < p.K4; k0 += T_BK4) {
    for (var i = li; i < T_A; i += threads) {
      let r = m0 + i / T_BK4;
      let k4 = k0 + i % T_BK4;
      var v = vec4<f32>(0.0);
      if (r < p.M && k4 < p.K4) { v = xv(r * p.K4 + k4); }
      ta[i] = v;
    }
    for (var i = li; i < T_B; i += threads) {
      let k = k0 * 4u + i / bn4;
      let c = n0 + i % bn4;
      var v = vec4<f32>(0.0);
      if (k < p.K && c < p.N4) { v = wv(k * p.N4 + c); }
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
