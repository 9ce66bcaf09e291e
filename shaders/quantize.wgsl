// QUANTIZE on an activation, in the real values the engine computes with: each value snaps to the output
// tensor's integer grid, y = (clamp(round(x / scale) + zeroPoint, qmin, qmax) - zeroPoint) * scale, with
// TFLite's rounding (half away from zero; WGSL's round() would round half to even). Written through an
// output view.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read_write> y: array<st>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let s = f32(x[i]) / p.scale;
  let q = clamp(sign(s) * floor(abs(s) + 0.5) + p.zeroPoint, p.qmin, p.qmax);
  let c = i % p.channels;
  let pix = i / p.channels;
  y[p.outBase + (pix / p.pixels) * p.outBatchStride + (pix % p.pixels) * p.outPixelStride + c] = st((q - p.zeroPoint) * p.scale);
}
