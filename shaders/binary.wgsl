// Element-wise mul / sub of two operands with NumPy broadcasting over up to 4 dimensions: each operand
// is read through strides that are 0 along its broadcast dimensions. `x` is an activation; `k` is the
// other operand, an activation or a constant (its access mode, K_ACCESS, is filled in by the TS side,
// since activations share one writable arena and constants are read-only). With `swap` the constant is
// the left operand (c - x). The result goes through an output view with a clamp.
//
//   main_mul, main_sub

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, K_ACCESS> k: array<st>;
@group(0) @binding(3) var<storage, read_write> y: array<st>;

// The left and right operand of output element i.
fn operands(i: u32) -> vec2<f32> {
  // Output coordinates, innermost last.
  let d3 = i % p.outShape.w;
  let d2 = (i / p.outShape.w) % p.outShape.z;
  let d1 = (i / (p.outShape.w * p.outShape.z)) % p.outShape.y;
  let d0 = i / (p.outShape.w * p.outShape.z * p.outShape.y);
  let coord = vec4<u32>(d0, d1, d2, d3);
  let xv = f32(x[dot(coord, p.xStrides)]);
  let kv = f32(k[dot(coord, p.kStrides)]);
  if (p.swap != 0u) { return vec2<f32>(kv, xv); }
  return vec2<f32>(xv, kv);
}

fn store(i: u32, v: f32) {
  let c = i % p.channels;
  let pix = i / p.channels;
  let at = p.outBase + (pix / p.pixels) * p.outBatchStride + (pix % p.pixels) * p.outPixelStride + c;
  y[at] = st(clamp(v, p.clampMin, p.clampMax));
}

@compute @workgroup_size(WG_SIZE)
fn main_mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let o = operands(i);
  store(i, o.x * o.y);
}

@compute @workgroup_size(WG_SIZE)
fn main_sub(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let o = operands(i);
  store(i, o.x - o.y);
}
