// qdot/qsum for the quantized kernels' plain-integer variants: the same sums as qdot_packed.wgsl
// from unpacked lanes, for adapters without packed_4x8_integer_dot_product.

fn qdot(x: u32, w: u32) -> i32 {
  return lane_value(x, 0u) * lane_value(w, 0u) + lane_value(x, 1u) * lane_value(w, 1u) +
    lane_value(x, 2u) * lane_value(w, 2u) + lane_value(x, 3u) * lane_value(w, 3u);
}

fn qsum(x: u32) -> i32 {
  return lane_value(x, 0u) + lane_value(x, 1u) + lane_value(x, 2u) + lane_value(x, 3u);
}
