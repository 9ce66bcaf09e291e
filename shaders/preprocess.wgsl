// RGBA8 image (a texture, so browsers can copy camera/video frames in without a CPU copy) ->
// float NHWC [dstH, dstW, 3] at the model's size. The image sits on a virtual canvas (itself, or
// padded with black); the canvas is resized bilinearly following TF resize_bilinear: source
// coordinate = dst * scale (+ half-pixel shift), neighbours clamped to the canvas edge.
// main_quantized writes an 8-bit input instead, packed four to a u32 (quantized models): the
// resized pixel rounded half up and clamped to 0..255, plus p.qOffset (-128 for int8 inputs), as
// TFLite apps feed such models.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var src: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// main_quantized's output; each entry point uses one of the two bindings.
@group(0) @binding(2) var<storage, read_write> yq: array<u32>;

fn canvas_pixel(cx: i32, cy: i32) -> vec3<f32> {
  let ix = cx - p.x0;
  let iy = cy - p.y0;
  if (ix < 0 || iy < 0 || ix >= i32(p.imgW) || iy >= i32(p.imgH)) { return vec3<f32>(0.0); }
  return textureLoad(src, vec2<i32>(ix, iy), 0).rgb * 255.0;
}

struct Coord {
  i: i32,
  f: f32,
}

// Source coordinate of output index d along one axis, split into floor and fraction: TF's
// (d + 0.5) * canvas / dst - 0.5 (half-pixel centres) or d * canvas / dst, in integers so that only
// the fraction is rounded (once): float32 coordinates were off by up to 0.01 of a pixel's weight,
// enough to move an 8-bit input across a rounding boundary.
fn source_coord(d: u32, canvas: u32, dst: u32) -> Coord {
  var num: i32;
  var den: i32;
  if (p.halfPixel != 0u) {
    num = i32((2u * d + 1u) * canvas) - i32(dst);
    den = 2 * i32(dst);
  } else {
    num = i32(d * canvas);
    den = i32(dst);
  }
  var i = num / den;
  if (num < 0 && i * den != num) { i -= 1; }
  return Coord(i, f32(num - i * den) / f32(den));
}

fn lerp(a: vec3<f32>, b: vec3<f32>, t: f32) -> vec3<f32> {
  return a + (b - a) * t;
}

// The resized RGB of output pixel idx, on 0..255.
fn resized(idx: u32) -> vec3<f32> {
  let cx = source_coord(idx % p.dstW, p.canvasW, p.dstW);
  let cy = source_coord(idx / p.dstW, p.canvasH, p.dstH);
  let xa = clamp(cx.i, 0, i32(p.canvasW) - 1);
  let xb = clamp(cx.i + 1, 0, i32(p.canvasW) - 1);
  let ya = clamp(cy.i, 0, i32(p.canvasH) - 1);
  let yb = clamp(cy.i + 1, 0, i32(p.canvasH) - 1);
  let top = lerp(canvas_pixel(xa, ya), canvas_pixel(xb, ya), cx.f);
  let bottom = lerp(canvas_pixel(xa, yb), canvas_pixel(xb, yb), cx.f);
  return lerp(top, bottom, cy.f);
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG_SIZE;
  if (idx >= p.dstW * p.dstH) { return; }
  let v = (resized(idx) - vec3<f32>(p.mean)) / p.stdDev;
  let o = p.outBase + idx * 3u;
  y[o] = v.x;
  y[o + 1u] = v.y;
  y[o + 2u] = v.z;
}

// One output word: four consecutive values of the image's [dstH, dstW, 3] bytes (outBase is a
// multiple of 4 values: batch slots of whole words, see preprocessStage).
@compute @workgroup_size(WG_SIZE)
fn main_quantized(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG_SIZE;
  let count = p.dstW * p.dstH * 3u;
  if (w * 4u >= count) { return; }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let e = w * 4u + k;
    if (e >= count) { break; }
    let rgb = resized(e / 3u);
    let c = e % 3u;
    let v = select(select(rgb.z, rgb.y, c == 1u), rgb.x, c == 0u);
    let q = clamp(i32(floor(v + 0.5)), 0, 255) + p.qOffset;
    word |= (u32(q) & 0xffu) << (8u * k);
  }
  yq[p.outBase / 4u + w] = word;
}
