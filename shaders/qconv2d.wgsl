// Quantized standard convolution: NHWC 8-bit activations and OHWI filter (TFLite's layout), both
// packed four to a u32; int32 accumulation, per-channel requantization (qcommon.wgsl, prepended with
// Params and qdot/qsum).
//
//   main_naive   one output word (4 consecutive output values, any shape) per invocation, with
//                TFLite's reference arithmetic: sum of (x - zx)(w - zw) over the taps in the image.
//   main_packed  one pixel x 4 output channels (Cin % 4 == 0, Cout % 4 == 0): whole words through
//                qdot (dot4U8Packed / dot4I8Packed, or plain integers), padding read as the zero
//                point, zero points corrected once at the end (see channelData()).

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> ch: array<vec4<i32>>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;

fn x_at(i: u32) -> i32 {
  return lane_value(x[i >> 2u], i & 3u);
}

fn w_at(i: u32) -> i32 {
  return lane_value(w[i >> 2u], i & 3u);
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
    let co = e % p.outC;
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
        let xi = ((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inC;
        let wi = ((co * p.kH + ky) * p.kW + kx) * p.inC;
        for (var ci = 0u; ci < p.inC; ci++) {
          acc += (x_at(xi + ci) - p.inZp) * (w_at(wi + ci) - p.wZp);
        }
      }
    }
    let c = ch[co];
    out[j] = requantize(acc + c.x, c);
  }
  y[t] = pack4(out);
}

@compute @workgroup_size(WG_SIZE)
fn main_packed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  let groups = p.outC / 4u;
  if (t >= p.batch * p.outH * p.outW * groups) { return; }
  let cg = t % groups;
  let pix = t / groups;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  let inC4 = p.inC / 4u;
  let k4 = p.kH * p.kW * inC4;
  let w0 = cg * 4u * k4;
  let zx = splat4(p.inZp);
  var acc = vec4<i32>(0);
  var xsum = 0;
  for (var ky = 0u; ky < p.kH; ky++) {
    for (var kx = 0u; kx < p.kW; kx++) {
      let iy = i32(oy * p.strideH + ky) - i32(p.padTop);
      let ix = i32(ox * p.strideW + kx) - i32(p.padLeft);
      let inside = iy >= 0 && iy < i32(p.inH) && ix >= 0 && ix < i32(p.inW);
      let xb = select(0u, ((b * p.inH + u32(iy)) * p.inW + u32(ix)) * inC4, inside);
      let wb = w0 + (ky * p.kW + kx) * inC4;
      for (var c4 = 0u; c4 < inC4; c4++) {
        let xv = select(zx, x[xb + c4], inside);
        xsum += qsum(xv);
        let wi = wb + c4;
        acc += vec4<i32>(qdot(xv, w[wi]), qdot(xv, w[wi + k4]), qdot(xv, w[wi + 2u * k4]), qdot(xv, w[wi + 3u * k4]));
      }
    }
  }
  var out: vec4<i32>;
  for (var j = 0u; j < 4u; j++) {
    let c = ch[cg * 4u + j];
    out[j] = requantize(acc[j] - p.wZp * xsum + c.y, c);
  }
  y[t] = pack4(out);
}
