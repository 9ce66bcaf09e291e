// Backward of the 1x1 convolution GEMM (pointwise_conv2d.wgsl), y[M, N] = x[M, K] * w[K, N4] with
// M = batch * HW pixels. `dy` is the gradient of y after the activation mask, read through the
// forward pass's output view (row m = pixel m % HW of image m / HW). conv2d_backward.wgsl reuses
// both GEMMs on im2col rows, where K runs over (ky, kx, ci).
//
//   main_dx: dx[M, K] = dy[M, N] * w^T, added to dx when p.accumulate is 1 (a tensor's gradient),
//            written when 0 (a scratch buffer).
//   main_dw: dw[K, N4] += x^T * dy[M, N], reducing over M.
// Register tiles of TA x (4 * TB) outputs per invocation (TA rows of m or k, TB groups of 4 columns
// of k or n; constants prepended by the TS side) give each loaded value TB*4 or TA multiply-adds.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
// The weights for main_dx, the forward input for main_dw.
@group(0) @binding(2) var<storage, read_write> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

const TC: u32 = 4u * TB;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG_SIZE;
}

fn dy_row(m: u32) -> u32 {
  return p.dyBase + (m / p.HW) * p.dyBatchStride + (m % p.HW) * p.dyPixelStride;
}

@compute @workgroup_size(WG_SIZE)
fn main_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let tilesK = (p.K + TC - 1u) / TC;
  let tilesM = (p.M + TA - 1u) / TA;
  if (idx >= tilesM * tilesK) { return; }
  let k0 = (idx % tilesK) * TC;
  let m0 = (idx / tilesK) * TA;
  let row = p.N4 * 4u;
  // Rows and columns past the edge repeat the last one: read in bounds, never stored.
  var dr: array<u32, TA>;
  for (var r = 0u; r < TA; r++) { dr[r] = dy_row(min(m0 + r, p.M - 1u)); }
  var wr: array<u32, TC>;
  for (var j = 0u; j < TC; j++) { wr[j] = min(k0 + j, p.K - 1u) * row; }
  var acc: array<vec4<f32>, TA * TB>;
  for (var n = 0u; n < p.N; n++) {
    var w: array<vec4<f32>, TB>;
    for (var t = 0u; t < TB; t++) {
      w[t] = vec4<f32>(src[wr[4u * t] + n], src[wr[4u * t + 1u] + n], src[wr[4u * t + 2u] + n], src[wr[4u * t + 3u] + n]);
    }
    for (var r = 0u; r < TA; r++) {
      let d = dy[dr[r] + n];
      for (var t = 0u; t < TB; t++) { acc[r * TB + t] += d * w[t]; }
    }
  }
  let keep = f32(p.accumulate);
  for (var r = 0u; r < TA; r++) {
    let m = m0 + r;
    if (m >= p.M) { break; }
    for (var j = 0u; j < TC; j++) {
      if (k0 + j >= p.K) { break; }
      let o = m * p.K + k0 + j;
      grad[o] = keep * grad[o] + acc[r * TB + j / 4u][j % 4u];
    }
  }
}

@compute @workgroup_size(WG_SIZE)
fn main_dw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let tilesN = (p.N + TC - 1u) / TC;
  let tilesK = (p.K + TA - 1u) / TA;
  if (idx >= tilesK * tilesN) { return; }
  let n0 = (idx % tilesN) * TC;
  let k0 = (idx / tilesN) * TA;
  var ks: array<u32, TA>;
  for (var a = 0u; a < TA; a++) { ks[a] = min(k0 + a, p.K - 1u); }
  // Columns past N belong to the zero padding of the weights: read in bounds, weight 0.
  var cols: array<u32, TC>;
  var live: array<f32, TC>;
  for (var j = 0u; j < TC; j++) {
    cols[j] = min(n0 + j, p.N - 1u);
    live[j] = select(0.0, 1.0, n0 + j < p.N);
  }
  var acc: array<vec4<f32>, TA * TB>;
  for (var m = 0u; m < p.M; m++) {
    let d0 = dy_row(m);
    var d: array<vec4<f32>, TB>;
    for (var t = 0u; t < TB; t++) {
      let c = 4u * t;
      d[t] = vec4<f32>(dy[d0 + cols[c]] * live[c], dy[d0 + cols[c + 1u]] * live[c + 1u], dy[d0 + cols[c + 2u]] * live[c + 2u], dy[d0 + cols[c + 3u]] * live[c + 3u]);
    }
    let xi = m * p.K;
    for (var a = 0u; a < TA; a++) {
      let xv = src[xi + ks[a]];
      for (var t = 0u; t < TB; t++) { acc[a * TB + t] += xv * d[t]; }
    }
  }
  let row = p.N4 * 4u;
  for (var a = 0u; a < TA; a++) {
    if (k0 + a >= p.K) { break; }
    for (var j = 0u; j < TC; j++) {
      if (n0 + j >= row) { break; }
      let o = (k0 + a) * row + n0 + j;
      grad[o] += acc[a * TB + j / 4u][j % 4u];
    }
  }
}
