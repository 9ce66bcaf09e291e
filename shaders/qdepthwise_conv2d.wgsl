// Quantized depthwise convolution (multiplier 1): NHWC 8-bit activations and a [KH, KW, C] filter,
// packed four to a u32; int32 accumulation, per-channel requantization (qcommon.wgsl prepended).
// Each output channel multiplies its own input channel, so there is no 4-lane dot product to use:
// both variants multiply unpacked lanes with TFLite's reference arithmetic.
//
//   main_naive  one output word (4 consecutive output values, any C) per invocation.
//   main_vec4   one pixel x 4 channels: one input word and one filter word per tap (C % 4 == 0).

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> ch: array<vec4<i32>>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;

fn lanes(word: u32) -> vec4<i32> {
  return vec4<i32>(lane_value(word, 0u), lane_value(word, 1u), lane_value(word, 2u), lane_value(word, 3u));
}

@compute @workgroup_size(WG_SIZE)
fn main_naive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  let total = p.batch * p.outH * p.outW * p.outC;
  if (t >= (total + 3u) / 4u) { return; }
  var out = vec4<i32>(0);
  for (var j = 0u; j < 4u; j++) {
    let e = t * 4u + j;
    if (e >= total) { break; }
    let c = e % p.outC;
    let pix = e / p.outC;
    let ox = pix % p.outW;
    let oy = (pix / p.outW) % p.outH;
    let b = pix / (p.outW * p.outH);
    var acc = 0;
    for (var ky = 0u; ky < p.kH; ky++) {
      let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
      if (iy < 0 || iy >= i32(p.inH)) { continue; }
      for (var kx = 0u; kx < p.kW; kx++) {
        let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
        if (ix < 0 || ix >= i32(p.inW)) { continue; }
        let xi = ((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inC + c;
        let wi = (ky * p.kW + kx) * p.outC + c;
        acc += (lane_value(x[xi >> 2u], xi & 3u) - p.inZp) * (lane_value(w[wi >> 2u], wi & 3u) - p.wZp);
      }
    }
    let cd = ch[c];
    out[j] = requantize(acc + cd.x, cd);
  }
  y[t] = pack4(out);
}

@compute @workgroup_size(WG_SIZE)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  let groups = p.outC / 4u;
  if (t >= p.batch * p.outH * p.outW * groups) { return; }
  let cg = t % groups;
  let pix = t / groups;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  var acc = vec4<i32>(0);
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      let xv = lanes(x[((b * p.inH + u32(iy)) * p.inW + u32(ix)) * groups + cg]) - vec4<i32>(p.inZp);
      let wv = lanes(w[(ky * p.kW + kx) * groups + cg]) - vec4<i32>(p.wZp);
      acc += xv * wv;
    }
  }
  var out: vec4<i32>;
  for (var j = 0u; j < 4u; j++) {
    let cd = ch[cg * 4u + j];
    out[j] = requantize(acc[j] + cd.x, cd);
  }
  y[t] = pack4(out);
}
