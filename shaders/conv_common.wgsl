// Shared by conv2d.wgsl and depthwise_conv2d.wgsl (prepended by the TS side): the flat invocation
// index of a 1-D grid split over x and y, and the epilogue that clamps four output channels and
// writes them through the output view (base, batch stride, pixel stride), skipping padded channels.
// Both files declare `p: Params` and `y: array<st>` (kernels/storage.ts); module-scope names resolve in any order.

override WG_SIZE: u32 = 64u;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG_SIZE;
}

fn store4(b: u32, oy: u32, ox: u32, cg: u32, v: vec4<f32>) {
  let r = clamp(v, vec4<f32>(p.clampMin), vec4<f32>(p.clampMax));
  let base = p.outBase + b * p.outBatchStride + (oy * p.outW + ox) * p.outPixelStride + cg * 4u;
  let c = cg * 4u;
  y[base] = st(r.x);
  if (c + 1u < p.outC) { y[base + 1u] = st(r.y); }
  if (c + 2u < p.outC) { y[base + 2u] = st(r.z); }
  if (c + 3u < p.outC) { y[base + 3u] = st(r.w); }
}
