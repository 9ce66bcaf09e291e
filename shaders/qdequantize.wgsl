// 8-bit values (packed four to a u32) to float32 through a 256-entry table of their dequantized
// values (qcommon.wgsl prepended): the integer network's outputs as the SSD head reads them, the
// table holding whatever the reference runtime computes per value (a LOGISTIC, then scale * (q - zp)).

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<f32, 256>;
@group(0) @binding(2) var<storage, read_write> x: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg);
  if (i >= p.count) { return; }
  y[i] = table[(x[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu];
}
