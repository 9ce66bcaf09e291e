// Resizing an NHWC tensor's H and W by TFLite's rules (RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR):
// scale = in/out, or (in-1)/(out-1) with align_corners (computed on the CPU in float32, as TFLite does);
// source = out*scale, or (out+0.5)*scale - 0.5 with half_pixel_centers (nearest: (out+0.5)*scale).
//
//   main_bilinear: TFLite's reference blend of the 4 neighbours, lower bound floored and clamped at 0,
//                  upper bound ceiled and clamped at in-1, weights from the unclamped source position.
//   main_nearest:  floor(source), or round-half-away(source) with align_corners, clamped to the input.
// Written through an output view with a clamp, so a resize can fill its slice of a concatenation.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read_write> y: array<st>;

struct Out {
  b: u32,
  oy: u32,
  ox: u32,
  c: u32,
}

fn coords(i: u32) -> Out {
  let pix = i / p.channels;
  return Out(pix / (p.outW * p.outH), (pix / p.outW) % p.outH, pix % p.outW, i % p.channels);
}

fn at(b: u32, iy: u32, ix: u32, c: u32) -> f32 {
  return f32(x[((b * p.inH + iy) * p.inW + ix) * p.channels + c]);
}

fn store(o: Out, v: f32) {
  let i = p.outBase + o.b * p.outBatchStride + (o.oy * p.outW + o.ox) * p.outPixelStride + o.c;
  y[i] = st(clamp(v, p.clampMin, p.clampMax));
}

fn source(v: u32, scale: f32) -> f32 {
  if (p.halfPixel != 0u) { return (f32(v) + 0.5) * scale - 0.5; }
  return f32(v) * scale;
}

@compute @workgroup_size(WG_SIZE)
fn main_bilinear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let o = coords(i);
  let fy = source(o.oy, p.scaleY);
  let fx = source(o.ox, p.scaleX);
  let y0 = max(floor(fy), 0.0);
  let x0 = max(floor(fx), 0.0);
  let y1 = u32(min(ceil(fy), f32(p.inH - 1u)));
  let x1 = u32(min(ceil(fx), f32(p.inW - 1u)));
  let dy = fy - y0;
  let dx = fx - x0;
  let v = at(o.b, u32(y0), u32(x0), o.c) * (1.0 - dy) * (1.0 - dx) + at(o.b, y1, u32(x0), o.c) * dy * (1.0 - dx) +
    at(o.b, u32(y0), x1, o.c) * (1.0 - dy) * dx + at(o.b, y1, x1, o.c) * dy * dx;
  store(o, v);
}

fn nearest(v: u32, scale: f32, size: u32) -> u32 {
  var offset = 0.0;
  if (p.halfPixel != 0u) { offset = 0.5; }
  let s = (f32(v) + offset) * scale;
  var r = floor(s);
  if (p.alignCorners != 0u) { r = floor(s + 0.5); }
  return u32(clamp(r, 0.0, f32(size - 1u)));
}

@compute @workgroup_size(WG_SIZE)
fn main_nearest(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= p.count) { return; }
  let o = coords(i);
  store(o, at(o.b, nearest(o.oy, p.scaleY, p.inH), nearest(o.ox, p.scaleX, p.inW), o.c));
}
