// Constant padding of an NHWC tensor on H, W and C (TFLite PAD / PADV2): every output element is the input
// element it came from, or the pad value outside the input. Written through an output view with a clamp,
// so a pad can fill its slice of a concatenation.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read_write> y: array<st>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let c = i % p.outC;
  let pix = i / p.outC;
  let ox = pix % p.outW;
  let oy = (pix / p.outW) % p.outH;
  let b = pix / (p.outW * p.outH);
  let iy = i32(oy) - i32(p.padTop);
  let ix = i32(ox) - i32(p.padLeft);
  let ic = i32(c) - i32(p.padFront);
  var v = p.value;
  if (iy >= 0 && iy < i32(p.inH) && ix >= 0 && ix < i32(p.inW) && ic >= 0 && ic < i32(p.inC)) {
    v = f32(x[((b * p.inH + u32(iy)) * p.inW + u32(ix)) * p.inC + u32(ic)]);
  }
  let at = p.outBase + b * p.outBatchStride + (oy * p.outW + ox) * p.outPixelStride + c;
  y[at] = st(clamp(v, p.clampMin, p.clampMax));
}
