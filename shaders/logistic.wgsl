// Element-wise sigmoid, written in the form that cannot overflow exp() for large |x|.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read_write> y: array<st>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let v = f32(x[i]);
  let e = exp(-abs(v));
  y[i] = st(select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0));
}
