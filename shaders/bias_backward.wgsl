// Gradient of a convolution's bias (any kind: the bias adds to every output pixel):
// db[n] += sum over the M = batch * HW output pixels of dy[pixel, n], dy read through the forward
// pass's output view and already masked by the activation. One output channel per invocation.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  if (n >= p.N) { return; }
  var acc = 0.0;
  for (var m = 0u; m < p.M; m++) {
    acc += dy[p.dyBase + (m / p.HW) * p.dyBatchStride + (m % p.HW) * p.dyPixelStride + n];
  }
  grad[n] += acc;
}
