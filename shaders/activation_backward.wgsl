// Element-wise backward helpers over contiguous tensors.
//   main_mask: the fused activation clamp(z, lo, hi) passes the gradient only where it did not
//              clamp: dy[i] = 0 unless lo < y[i] < hi (y is the forward output; the same test on z
//              differs only at the measure-zero points z == lo or z == hi).
//   main_add:  b[i] += a[i]; an ADD node hands its output gradient to both operands this way.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG_SIZE;
}

// a = y (forward output), b = dy (masked in place).
@compute @workgroup_size(WG_SIZE)
fn main_mask(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg);
  if (i >= p.count) { return; }
  let y = a[i];
  if (!(y > p.lo && y < p.hi)) { b[i] = 0.0; }
}

@compute @workgroup_size(WG_SIZE)
fn main_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg);
  if (i >= p.count) { return; }
  b[i] += a[i];
}
