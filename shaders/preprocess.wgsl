// RGBA8 image (a texture, so browsers can copy camera/video frames in without a CPU copy) ->
// float NHWC [dstH, dstW, 3] at the model's size. The image sits on a virtual canvas (itself, or
// padded with black); the canvas is resized bilinearly following TF resize_bilinear: source
// coordinate = dst * scale (+ half-pixel shift), neighbours clamped to the canvas edge.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var src: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn canvas_pixel(cx: i32, cy: i32) -> vec3<f32> {
  let ix = cx - p.x0;
  let iy = cy - p.y0;
  if (ix < 0 || iy < 0 || ix >= i32(p.imgW) || iy >= i32(p.imgH)) { return vec3<f32>(0.0); }
  return textureLoad(src, vec2<i32>(ix, iy), 0).rgb * 255.0;
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG_SIZE;
  if (idx >= p.dstW * p.dstH) { return; }
  let dx = idx % p.dstW;
  let dy = idx / p.dstW;
  let shift = select(0.0, 0.5, p.halfPixel != 0u);
  let fx = (f32(dx) + shift) * p.scaleX - shift;
  let fy = (f32(dy) + shift) * p.scaleY - shift;
  let x0 = i32(floor(fx));
  let y0 = i32(floor(fy));
  let lx = fx - f32(x0);
  let ly = fy - f32(y0);
  let xa = clamp(x0, 0, i32(p.canvasW) - 1);
  let xb = clamp(x0 + 1, 0, i32(p.canvasW) - 1);
  let ya = clamp(y0, 0, i32(p.canvasH) - 1);
  let yb = clamp(y0 + 1, 0, i32(p.canvasH) - 1);
  let top = mix(canvas_pixel(xa, ya), canvas_pixel(xb, ya), lx);
  let bottom = mix(canvas_pixel(xa, yb), canvas_pixel(xb, yb), lx);
  let v = (mix(top, bottom, ly) - vec3<f32>(p.mean)) / p.stdDev;
  let o = p.outBase + idx * 3u;
  y[o] = v.x;
  y[o + 1u] = v.y;
  y[o + 2u] = v.z;
}
