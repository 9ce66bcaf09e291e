// RGBA8 image (a texture, so browsers can copy camera/video frames in without a CPU copy) ->
// float NHWC [dstH, dstW, 3] at the model's size. The image sits on a virtual canvas (itself, or
// padded with black); the canvas is resized bilinearly following TF resize_bilinear: source
// coordinate = dst * scale (+ half-pixel shift), neighbours clamped to the canvas edge.
// main_quantized writes an 8-bit input instead, packed four to a u32 (quantized models): the
// resized pixel rounded half up, plus p.qOffset (-128 for int8 inputs), as TFLite apps feed such
// models and exactly as preprocess_ref's float32 value rounded (the goldens' inputs).

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var src: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<st>; // st: kernels/storage.ts
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
  // The fraction is rem / den exactly.
  rem: u32,
  den: u32,
}

// Source coordinate of output index d along one axis, split into floor and fraction: TF's
// (d + 0.5) * canvas / dst - 0.5 (half-pixel centres) or d * canvas / dst, in integers: float32
// coordinates were off by up to 0.01 of a pixel's weight, enough to move an 8-bit input across a
// rounding boundary.
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
  return Coord(i, u32(num - i * den), u32(den));
}

fn lerp(a: vec3<f32>, b: vec3<f32>, t: f32) -> vec3<f32> {
  return a + (b - a) * t;
}

struct Taps {
  cx: Coord,
  cy: Coord,
  // Canvas pixels at (xa, ya), (xb, ya), (xa, yb), (xb, yb), on 0..255.
  tl: vec3<f32>,
  tr: vec3<f32>,
  bl: vec3<f32>,
  br: vec3<f32>,
}

fn taps(idx: u32) -> Taps {
  let cx = source_coord(idx % p.dstW, p.canvasW, p.dstW);
  let cy = source_coord(idx / p.dstW, p.canvasH, p.dstH);
  let xa = clamp(cx.i, 0, i32(p.canvasW) - 1);
  let xb = clamp(cx.i + 1, 0, i32(p.canvasW) - 1);
  let ya = clamp(cy.i, 0, i32(p.canvasH) - 1);
  let yb = clamp(cy.i + 1, 0, i32(p.canvasH) - 1);
  return Taps(cx, cy, canvas_pixel(xa, ya), canvas_pixel(xb, ya), canvas_pixel(xa, yb), canvas_pixel(xb, yb));
}

// The resized RGB of output pixel idx, on 0..255.
fn resized(idx: u32) -> vec3<f32> {
  let t = taps(idx);
  let fx = f32(t.cx.rem) / f32(t.cx.den);
  let top = lerp(t.tl, t.tr, fx);
  let bottom = lerp(t.bl, t.br, fx);
  return lerp(top, bottom, f32(t.cy.rem) / f32(t.cy.den));
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG_SIZE;
  if (idx >= p.dstW * p.dstH) { return; }
  let v = (resized(idx) - vec3<f32>(p.mean)) / p.stdDev;
  let o = p.outBase + idx * 3u;
  y[o] = st(v.x);
  y[o + 1u] = st(v.y);
  y[o + 2u] = st(v.z);
}

// The resized value n / d (n, d integers) rounded half up after a rounding to float32, as the CPU
// reference writes a float32 and rounds it: n / d rounds to q + 1 when its fraction is at least 1/2,
// or within half a float32 step below 1/2 (then float32 rounds it up onto k + 1/2; at the exact
// midpoint to k + 1/2 too, whose last mantissa bit is 0). The step below k + 1/2 is 2^-s.
fn round_like_reference(n: u32, d: u32) -> u32 {
  let k = n / d;
  let deficit = i32(d) - 2 * i32(n - k * d);
  if (deficit <= 0) { return k + 1u; }
  let s = select(23u - firstLeadingBit(k), 25u, k == 0u);
  return select(k, k + 1u, u32(deficit) <= (d >> s));
}

// One output word: four consecutive values of the image's [dstH, dstW, 3] bytes (outBase is a
// multiple of 4 values: preprocessStage refuses batch slots that would share a word). Bilinear in
// integers: value * den_x * den_y exactly (preprocessStage checks it fits in 32 bits).
@compute @workgroup_size(WG_SIZE)
fn main_quantized(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG_SIZE;
  let count = p.dstW * p.dstH * 3u;
  if (w * 4u >= count) { return; }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let e = w * 4u + k;
    if (e >= count) { break; }
    let t = taps(e / 3u);
    let c = e % 3u;
    let pick = vec3<bool>(c == 0u, c == 1u, c == 2u);
    let corner = vec4<u32>(
      u32(round(dot(t.tl, vec3<f32>(pick)))),
      u32(round(dot(t.tr, vec3<f32>(pick)))),
      u32(round(dot(t.bl, vec3<f32>(pick)))),
      u32(round(dot(t.br, vec3<f32>(pick)))),
    );
    let wx = vec2<u32>(t.cx.den - t.cx.rem, t.cx.rem);
    let top = corner.x * wx.x + corner.y * wx.y;
    let bottom = corner.z * wx.x + corner.w * wx.y;
    let n = top * (t.cy.den - t.cy.rem) + bottom * t.cy.rem;
    let q = i32(min(round_like_reference(n, t.cx.den * t.cy.den), 255u)) + p.qOffset;
    word |= (u32(q) & 0xffu) << (8u * k);
  }
  yq[p.outBase / 4u + w] = word;
}
