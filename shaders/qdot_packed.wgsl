// qdot/qsum for the quantized kernels' packed variants: WGSL's 4x8-bit dot products (language
// feature packed_4x8_integer_dot_product). SIGNED selects the int8 form.

fn qdot(x: u32, w: u32) -> i32 {
  if (SIGNED) { return dot4I8Packed(x, w); }
  return bitcast<i32>(dot4U8Packed(x, w));
}

fn qsum(x: u32) -> i32 {
  return qdot(x, 0x01010101u);
}
