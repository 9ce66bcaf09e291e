// Element-wise add of two same-shaped tensors with a clamp (used when an ADD cannot be fused into
// the producing 1x1 convolution's epilogue).

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<st>;
@group(0) @binding(2) var<storage, read_write> b: array<st>;
@group(0) @binding(3) var<storage, read_write> y: array<st>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  y[i] = st(clamp(f32(a[i]) + f32(b[i]), p.clampMin, p.clampMax));
}
