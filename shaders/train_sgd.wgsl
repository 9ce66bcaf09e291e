// One SGD step with momentum over a flat parameter buffer (PyTorch's formulation, dampening 0):
//   g' = g + weightDecay * w   (decay only on the first decayCount values: the filters, not the biases)
//   v  = momentum * v + g'
//   w  = w - lr * v
// and the gradient is zeroed for the next step's accumulation.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let grad = g[i] + select(0.0, p.weightDecay * w[i], i < p.decayCount);
  let vel = p.momentum * v[i] + grad;
  v[i] = vel;
  w[i] -= p.lr * vel;
  g[i] = 0.0;
}
