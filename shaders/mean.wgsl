// The mean over H and W of an NHWC tensor (TFLite MEAN over axes 1 and 2, global average pooling):
// one invocation per (batch, channel) sums its H*W values in order. Output [N, C] (or [N, 1, 1, C]),
// written through an output view with a clamp.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read_write> y: array<st>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.batch * p.channels) { return; }
  let c = i % p.channels;
  let b = i / p.channels;
  var sum = 0.0;
  for (var k = 0u; k < p.pixels; k++) {
    sum += f32(x[(b * p.pixels + k) * p.channels + c]);
  }
  y[p.outBase + b * p.outBatchStride + c] = st(clamp(sum / f32(p.pixels), p.clampMin, p.clampMax));
}
