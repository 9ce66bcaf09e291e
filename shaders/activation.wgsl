// Element-wise activations y = clamp(f(x), clampMin, clampMax): f is the entry point, the clamp carries
// ReLU / ReLU6 / ReLU_N1_TO_1 and the range of a quantized output. The tensor is seen as
// [batch, pixels, channels] so the result can be written through an output view (a concatenation slice).
//
//   main_identity:   f(x) = x (a clamp alone)
//   main_tanh:       f(x) = tanh(x), from e^(-2|x|) so that no exp() overflows
//   main_hard_swish: f(x) = x * relu6(x + 3) / 6 (MobileNetV3)

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read_write> y: array<st>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG_SIZE;
}

fn store(i: u32, v: f32) {
  let c = i % p.channels;
  let pix = i / p.channels;
  let at = p.outBase + (pix / p.pixels) * p.outBatchStride + (pix % p.pixels) * p.outPixelStride + c;
  y[at] = st(clamp(v, p.clampMin, p.clampMax));
}

@compute @workgroup_size(WG_SIZE)
fn main_identity(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.count) { return; }
  store(i, f32(x[i]));
}

@compute @workgroup_size(WG_SIZE)
fn main_tanh(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.count) { return; }
  let v = f32(x[i]);
  let e = exp(-2.0 * abs(v));
  let t = (1.0 - e) / (1.0 + e);
  store(i, select(-t, t, v >= 0.0));
}

@compute @workgroup_size(WG_SIZE)
fn main_hard_swish(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.count) { return; }
  let v = f32(x[i]);
  store(i, v * clamp(v + 3.0, 0.0, 6.0) / 6.0);
}
