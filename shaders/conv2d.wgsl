// Standard convolution, NHWC activations, filter [KH, KW, Cin, Cout4] (Cout zero-padded to a
// multiple of 4 so a vec4 load fetches four output channels). Bias and the activation clamp are
// fused in the epilogue. `Params` is generated from the TS schema and prepended.
//
// Entry points (variants, each selectable from TS):
//   main_naive   v1: one output value per invocation; the plain reference on the GPU.
//   main_direct  v2: one output pixel x 4 output channels (vec4 filter loads).
//   main_blocked v3: 4 output pixels along x x 4 channels: each filter load feeds 4 FMAs
//                (variant blocked16: x 16 channels, each input load feeds 16 channels).
//   main_igemm   v4: implicit GEMM over (ky, kx, ci) in vec4 steps (Cin % 4 == 0).
// conv_common.wgsl (flat index, clamped store through the output view) is prepended. Buffers hold the
// storage type st (kernels/storage.ts); arithmetic is f32.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read> w: array<st4>;
@group(0) @binding(3) var<storage, read> bias: array<st4>;
@group(0) @binding(4) var<storage, read_write> y: array<st>;

// A filter vec4 from storage (st) as f32.
fn wload(i: u32) -> vec4<f32> {
  return vec4<f32>(w[i]);
}

fn in_index(b: u32, iy: u32, ix: u32) -> u32 {
  return ((b * p.inH + iy) * p.inW + ix) * p.inC;
}

@compute @workgroup_size(WG_SIZE)
fn main_naive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let total = p.batch * p.outH * p.outW * p.outC;
  if (idx >= total) { return; }
  let co = idx % p.outC;
  let pix = idx / p.outC;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  var acc = f32(bias[co / 4u][co % 4u]);
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      let xi = in_index(b, u32(iy), u32(ix));
      let wi = (ky * p.kW + kx) * p.inC * p.outC4 * 4u + co;
      for (var ci = 0u; ci < p.inC; ci++) {
        let wf = wi + ci * p.outC4 * 4u;
        acc += f32(x[xi + ci]) * f32(w[wf / 4u][wf % 4u]);
      }
    }
  }
  let r = clamp(acc, p.clampMin, p.clampMax);
  y[p.outBase + b * p.outBatchStride + (oy * p.outW + ox) * p.outPixelStride + co] = st(r);
}

@compute @workgroup_size(WG_SIZE)
fn main_direct(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let total = p.batch * p.outH * p.outW * p.outC4;
  if (idx >= total) { return; }
  let cg = idx % p.outC4;
  let pix = idx / p.outC4;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  var acc = vec4<f32>(bias[cg]);
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      let xi = in_index(b, u32(iy), u32(ix));
      var wi = (ky * p.kW + kx) * p.inC * p.outC4 + cg;
      for (var ci = 0u; ci < p.inC; ci++) {
        acc += f32(x[xi + ci]) * vec4<f32>(w[wi]);
        wi += p.outC4;
      }
    }
  }
  store4(b, oy, ox, cg, acc);
}

// main_blocked: CG (a compile-time constant, prepended by the TS side) groups of 4 output channels per
// invocation. CG = 4 lets each input value loaded feed 16 channels instead of 4: on JITs where a storage load
// is a per-lane gather (lavapipe), that is what a stem layer with 3 input channels is bound by.
@compute @workgroup_size(WG_SIZE)
fn main_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let outW4 = (p.outW + 3u) / 4u;
  let groups = (p.outC4 + CG - 1u) / CG;
  let total = p.batch * p.outH * outW4 * groups;
  if (idx >= total) { return; }
  let cg0 = (idx % groups) * CG;
  let t = idx / groups;
  let ox0 = (t % outW4) * 4u;
  let oy = (t / outW4) % p.outH;
  let b = t / (outW4 * p.outH);
  // Past the last channel group the loads repeat it (in bounds) and nothing is stored.
  var cgs: array<u32, CG>;
  var acc: array<vec4<f32>, 4u * CG>;
  for (var g = 0u; g < CG; g++) {
    cgs[g] = min(cg0 + g, p.outC4 - 1u);
    let b0 = vec4<f32>(bias[cgs[g]]);
    for (var j = 0u; j < 4u; j++) { acc[g * 4u + j] = b0; }
  }
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      var xi: array<u32, 4>;
      var ok: array<bool, 4>;
      for (var j = 0u; j < 4u; j++) {
        let ix = i32((ox0 + j) * p.strideW + kx) - i32(p.padLeft);
        ok[j] = ix >= 0 && ix < i32(p.inW) && ox0 + j < p.outW;
        xi[j] = select(0u, in_index(b, u32(iy), u32(ix)), ok[j]);
      }
      var wi = (ky * p.kW + kx) * p.inC * p.outC4;
      for (var ci = 0u; ci < p.inC; ci++) {
        var xv: array<f32, 4>;
        for (var j = 0u; j < 4u; j++) { xv[j] = select(0.0, f32(x[xi[j] + ci]), ok[j]); }
        for (var g = 0u; g < CG; g++) {
          let wv = wload(wi + cgs[g]);
          for (var j = 0u; j < 4u; j++) { acc[g * 4u + j] += xv[j] * wv; }
        }
        wi += p.outC4;
      }
    }
  }
  for (var g = 0u; g < CG; g++) {
    if (cg0 + g >= p.outC4) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (ox0 + j < p.outW) { store4(b, oy, ox0 + j, cg0 + g, acc[g * 4u + j]); }
    }
  }
}

// v4 (main_igemm): implicit GEMM for Cin % 4 == 0: rows are output pixels, K runs over
// (ky, kx, ci) in vec4 steps, columns are output channels. 4 pixels x 2 vec4 channel groups per
// invocation: every input vec4 feeds 8 multiply-adds of vec4 and every filter vec4 four.
@compute @workgroup_size(WG_SIZE)
fn main_igemm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let tilesN = (p.outC4 + 1u) / 2u;
  let pixels = p.batch * p.outH * p.outW;
  let tilesM = (pixels + 3u) / 4u;
  if (idx >= tilesM * tilesN) { return; }
  let cg0 = (idx % tilesN) * 2u;
  let cg1 = min(cg0 + 1u, p.outC4 - 1u);
  let m0 = (idx / tilesN) * 4u;
  var acc0: array<vec4<f32>, 4>;
  var acc1: array<vec4<f32>, 4>;
  var oy: array<i32, 4>;
  var ox: array<i32, 4>;
  var img: array<u32, 4>;
  for (var r = 0u; r < 4u; r++) {
    let m = min(m0 + r, pixels - 1u);
    ox[r] = i32(m % p.outW);
    oy[r] = i32((m / p.outW) % p.outH);
    img[r] = m / (p.outW * p.outH);
    acc0[r] = vec4<f32>(bias[cg0]);
    acc1[r] = vec4<f32>(bias[cg1]);
  }
  let cin4 = p.inC / 4u;
  for (var ky = 0u; ky < p.kH; ky++) {
    for (var kx = 0u; kx < p.kW; kx++) {
      var base: array<u32, 4>;
      var inside: array<bool, 4>;
      for (var r = 0u; r < 4u; r++) {
        let iy = oy[r] * i32(p.strideH) + i32(ky) - i32(p.padTop);
        let ix = ox[r] * i32(p.strideW) + i32(kx) - i32(p.padLeft);
        inside[r] = iy >= 0 && iy < i32(p.inH) && ix >= 0 && ix < i32(p.inW);
        base[r] = select(0u, ((img[r] * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inC, inside[r]);
      }
      var wi = (ky * p.kW + kx) * p.inC * p.outC4;
      for (var c4 = 0u; c4 < cin4; c4++) {
        let w00 = wload(wi + cg0); let w01 = wload(wi + p.outC4 + cg0); let w02 = wload(wi + 2u * p.outC4 + cg0); let w03 = wload(wi + 3u * p.outC4 + cg0);
        let w10 = wload(wi + cg1); let w11 = wload(wi + p.outC4 + cg1); let w12 = wload(wi + 2u * p.outC4 + cg1); let w13 = wload(wi + 3u * p.outC4 + cg1);
        for (var r = 0u; r < 4u; r++) {
          let i = base[r] + c4 * 4u;
          let a = select(vec4<f32>(0.0), vec4<f32>(f32(x[i]), f32(x[i + 1u]), f32(x[i + 2u]), f32(x[i + 3u])), inside[r]);
          acc0[r] += a.x * w00 + a.y * w01 + a.z * w02 + a.w * w03;
          acc1[r] += a.x * w10 + a.y * w11 + a.z * w12 + a.w * w13;
        }
        wi += 4u * p.outC4;
      }
    }
  }
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= pixels) { break; }
    let ox2 = m % p.outW;
    let oy2 = (m / p.outW) % p.outH;
    let b = m / (p.outW * p.outH);
    store4(b, oy2, ox2, cg0, acc0[r]);
    if (cg0 + 1u < p.outC4) { store4(b, oy2, ox2, cg0 + 1u, acc1[r]); }
  }
}
