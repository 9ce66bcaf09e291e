// 1x1 convolution as a GEMM: y[M, N] = x[M, K] * w[K, N] (+ bias, clamp, optional residual add,
// clamp). M = batch*H*W pixels, K = input channels, N = output channels. w is [K, N4] with N
// zero-padded to a multiple of 4. x is bound as vec4 rows (K % 4 == 0 for the fast variants).
// The residual skip tensor (an inverted-residual block's input) is added in the epilogue, so a
// whole block runs without a separate add pass. Epilogue:
//   v = clamp(acc + bias, clampMin, clampMax); if residual: v = clamp(v + r, addMin, addMax).
//
//   main_naive   v1: one output value per invocation (any K).
//   main_blocked v2: register-blocked, TM rows x TN vec4 columns per invocation (TM, TN are
//                    consts prepended by the TS side; they are part of the pipeline key).
//   main_shared  v3: classic workgroup-shared-memory tiling (32x32 tile, 16-wide K slabs),
//                    kept for measurement: barriers are slow on software drivers.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> residual: array<f32>;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg;
}

fn epilogue(m: u32, n4: u32, acc: vec4<f32>) {
  var v = clamp(acc + bias[n4], vec4<f32>(p.clampMin), vec4<f32>(p.clampMax));
  let img = m / p.HW;
  let base = p.outBase + img * p.outBatchStride + (m % p.HW) * p.outPixelStride + n4 * 4u;
  let n = n4 * 4u;
  if (p.hasResidual != 0u) {
    let r = m * p.N + n;
    var rv = vec4<f32>(residual[r], 0.0, 0.0, 0.0);
    if (n + 1u < p.N) { rv.y = residual[r + 1u]; }
    if (n + 2u < p.N) { rv.z = residual[r + 2u]; }
    if (n + 3u < p.N) { rv.w = residual[r + 3u]; }
    v = clamp(v + rv, vec4<f32>(p.addMin), vec4<f32>(p.addMax));
  }
  y[base] = v.x;
  if (n + 1u < p.N) { y[base + 1u] = v.y; }
  if (n + 2u < p.N) { y[base + 2u] = v.z; }
  if (n + 3u < p.N) { y[base + 3u] = v.w; }
}

@compute @workgroup_size(WG_SIZE)
fn main_naive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg, WG_SIZE);
  if (idx >= p.M * p.N) { return; }
  let n = idx % p.N;
  let m = idx / p.N;
  var acc = bias[n / 4u][n % 4u];
  for (var k = 0u; k < p.K; k++) {
    let xi = m * p.K + k;
    let wi = k * p.N4 * 4u + n;
    acc += x[xi / 4u][xi % 4u] * w[wi / 4u][wi % 4u];
  }
  var v = clamp(acc, p.clampMin, p.clampMax);
  if (p.hasResidual != 0u) { v = clamp(v + residual[m * p.N + n], p.addMin, p.addMax); }
  y[p.outBase + (m / p.HW) * p.outBatchStride + (m % p.HW) * p.outPixelStride + n] = v;
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
      b[c * 4u] = w[wrow + cols[c]];
      b[c * 4u + 1u] = w[wrow + p.N4 + cols[c]];
      b[c * 4u + 2u] = w[wrow + 2u * p.N4 + cols[c]];
      b[c * 4u + 3u] = w[wrow + 3u * p.N4 + cols[c]];
    }
    for (var r = 0u; r < TM; r++) {
      let a = x[rows[r] + k4];
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
      if (live && tm + r < p.M && kk < p.K4) { v = x[(tm + r) * p.K4 + kk]; }
      sa[i] = v;
      let kr = i / S_TN4;
      let cc = tn + i % S_TN4;
      var u = vec4<f32>(0.0);
      if (k0 * 4u + kr < p.K && cc < p.N4) { u = w[(k0 * 4u + kr) * p.N4 + cc]; }
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
