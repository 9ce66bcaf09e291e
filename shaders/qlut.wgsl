// 8-bit values through a 256-entry table into a strided destination (qcommon.wgsl prepended): the
// quantized LOGISTIC (one contiguous chunk) and one input of a quantized CONCATENATION (its chunk of
// every outer slice, requantized to the output's scale). One output word per invocation over the
// words the destination chunks touch; bytes outside them are kept, so inputs whose chunks share a
// word can be written by consecutive dispatches.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32, 256>;
@group(0) @binding(2) var<storage, read_write> x: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg);
  if (i >= p.words) { return; }
  let wi = p.firstWord + i;
  var out = y[wi];
  for (var j = 0u; j < 4u; j++) {
    let pos = wi * 4u + j;
    let k = pos / p.outChunk;
    let r = pos % p.outChunk;
    if (k < p.outer && r >= p.offset && r < p.offset + p.inChunk) {
      let src = k * p.inChunk + r - p.offset;
      let v = table[(x[src >> 2u] >> ((src & 3u) * 8u)) & 0xffu];
      out = (out & ~(0xffu << (j * 8u))) | (v << (j * 8u));
    }
  }
  y[wi] = out;
}
