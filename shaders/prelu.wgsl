// PReLU: y = x for x >= 0, alpha * x below, alpha per channel (the last axis) or one for all. Written
// through an output view with a clamp (a quantized output's range).

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read> alpha: array<st>;
@group(0) @binding(3) var<storage, read_write> y: array<st>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let c = i % p.channels;
  let v = f32(x[i]);
  let a = f32(alpha[select(0u, c, p.perChannel != 0u)]);
  let pix = i / p.channels;
  let at = p.outBase + (pix / p.pixels) * p.outBatchStride + (pix % p.pixels) * p.outPixelStride + c;
  y[at] = st(clamp(select(a * v, v, v >= 0.0), p.clampMin, p.clampMax));
}
