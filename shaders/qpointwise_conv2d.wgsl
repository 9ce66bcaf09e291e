// Quantized 1x1 convolution as a GEMM: input [M, K] (NHWC pixels), weights [N, K] (TFLite's OHWI),
// 8-bit values packed four to a u32; int32 accumulation, per-channel requantization (qcommon.wgsl
// prepended with Params, TM and qdot/qsum).
//
//   main_naive  one output word (4 consecutive output values, any K and N), TFLite's reference sum
//               of (x - zx)(w - zw).
//   main_flat   one output word (any N) through qdot over K / 4 words (K % 4 == 0); the output
//               values of a word may belong to two rows when N % 4 != 0 (the class heads).
//   main_tile   TM rows x 4 columns (K % 4 == 0, N % 4 == 0): each weight word feeds TM dot
//               products, each input word four.
// The qdot variants correct the zero points once at the end (see channelData()).

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> ch: array<vec4<i32>>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(WG_SIZE)
fn main_naive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  let total = p.M * p.N;
  if (t >= (total + 3u) / 4u) { return; }
  var out = vec4<i32>(0);
  for (var j = 0u; j < 4u; j++) {
    let e = t * 4u + j;
    if (e >= total) { break; }
    let n = e % p.N;
    let xi = (e / p.N) * p.K;
    let wi = n * p.K;
    var acc = 0;
    for (var k = 0u; k < p.K; k++) {
      let xk = xi + k;
      let wk = wi + k;
      acc += (lane_value(x[xk >> 2u], xk & 3u) - p.inZp) * (lane_value(w[wk >> 2u], wk & 3u) - p.wZp);
    }
    let c = ch[n];
    out[j] = requantize(acc + c.x, c);
  }
  y[t] = pack4(out);
}

@compute @workgroup_size(WG_SIZE)
fn main_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  let total = p.M * p.N;
  if (t >= (total + 3u) / 4u) { return; }
  var out = vec4<i32>(0);
  for (var j = 0u; j < 4u; j++) {
    let e = t * 4u + j;
    if (e >= total) { break; }
    let n = e % p.N;
    let xi = (e / p.N) * p.K4;
    let wi = n * p.K4;
    var acc = 0;
    var xsum = 0;
    for (var k = 0u; k < p.K4; k++) {
      let xv = x[xi + k];
      acc += qdot(xv, w[wi + k]);
      xsum += qsum(xv);
    }
    let c = ch[n];
    out[j] = requantize(acc - p.wZp * xsum + c.y, c);
  }
  y[t] = pack4(out);
}

@compute @workgroup_size(WG_SIZE)
fn main_tile(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  let groups = p.N / 4u;
  let tilesM = (p.M + TM - 1u) / TM;
  if (t >= tilesM * groups) { return; }
  let cg = t % groups;
  let m0 = (t / groups) * TM;
  let w0 = cg * 4u * p.K4;
  var acc: array<vec4<i32>, TM>;
  var xsum: array<i32, TM>;
  var row: array<u32, TM>;
  for (var r = 0u; r < TM; r++) {
    row[r] = min(m0 + r, p.M - 1u) * p.K4;
  }
  for (var k = 0u; k < p.K4; k++) {
    let wa = w[w0 + k];
    let wb = w[w0 + p.K4 + k];
    let wc = w[w0 + 2u * p.K4 + k];
    let wd = w[w0 + 3u * p.K4 + k];
    for (var r = 0u; r < TM; r++) {
      let xv = x[row[r] + k];
      acc[r] += vec4<i32>(qdot(xv, wa), qdot(xv, wb), qdot(xv, wc), qdot(xv, wd));
      xsum[r] += qsum(xv);
    }
  }
  for (var r = 0u; r < TM; r++) {
    let m = m0 + r;
    if (m >= p.M) { break; }
    var out: vec4<i32>;
    for (var j = 0u; j < 4u; j++) {
      let c = ch[cg * 4u + j];
      out[j] = requantize(acc[r][j] - p.wZp * xsum[r] + c.y, c);
    }
    y[m * groups + cg] = pack4(out);
  }
}
