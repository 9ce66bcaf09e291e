// The pointwise GEMM's subgroup variant, appended to pointwise_conv2d.wgsl (whose bindings, flat_id and
// epilogue it uses) only in pipelines built with `enable subgroups;`: a module without the extension cannot
// even contain a subgroup builtin.

// v7 (main_subgroup): main_blocked's TM x TN register tile, with the input rows loaded once per subgroup
// instead of once per invocation (TS prepends `enable subgroups;`). Invocations next to each other own the
// same rows and different columns, so for each chunk of `sg` vec4s of K lane l loads k4 = k0 + l of its rows
// and every lane takes k4 = k0 + j from lane j by subgroupShuffle. A shuffled value is used only when lane j's
// rows are this invocation's own (its m0 is shuffled alongside); otherwise it is loaded directly. So the result
// is main_blocked's, sums in the same order, for any subgroup size and any grouping of invocations into
// subgroups. No invocation returns early (shuffles need every lane active): those past the last tile compute a
// clamped copy of it and write nothing.
@compute @workgroup_size(WG_SIZE)
fn main_subgroup(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sg: u32,
) {
  let idx = flat_id(gid, nwg, WG_SIZE);
  let tilesN = (p.N4 + TN - 1u) / TN;
  let tiles = ((p.M + TM - 1u) / TM) * tilesN;
  let t = min(idx, tiles - 1u);
  let n40 = (t % tilesN) * TN;
  let m0 = (t / tilesN) * TM;
  var acc: array<vec4<f32>, TM * TN>;
  var rows: array<u32, TM>;
  for (var r = 0u; r < TM; r++) { rows[r] = min(m0 + r, p.M - 1u) * p.K4; }
  var cols: array<u32, TN>;
  for (var c = 0u; c < TN; c++) { cols[c] = min(n40 + c, p.N4 - 1u); }
  for (var k0 = 0u; k0 < p.K4; k0 += sg) {
    var own: array<vec4<f32>, TM>;
    let kl = min(k0 + lane, p.K4 - 1u);
    for (var r = 0u; r < TM; r++) { own[r] = xv(rows[r] + kl); }
    let steps = min(sg, p.K4 - k0);
    for (var j = 0u; j < steps; j++) {
      let k4 = k0 + j;
      let same_rows = subgroupShuffle(m0, j) == m0;
      let wrow = k4 * 4u * p.N4;
      var b: array<vec4<f32>, TN * 4u>;
      for (var c = 0u; c < TN; c++) {
        b[c * 4u] = wv(wrow + cols[c]);
        b[c * 4u + 1u] = wv(wrow + p.N4 + cols[c]);
        b[c * 4u + 2u] = wv(wrow + 2u * p.N4 + cols[c]);
        b[c * 4u + 3u] = wv(wrow + 3u * p.N4 + cols[c]);
      }
      for (var r = 0u; r < TM; r++) {
        var a = subgroupShuffle(own[r], j);
        if (!same_rows) { a = xv(rows[r] + k4); }
        for (var c = 0u; c < TN; c++) {
          acc[r * TN + c] += a.x * b[c * 4u] + a.y * b[c * 4u + 1u] + a.z * b[c * 4u + 2u] + a.w * b[c * 4u + 3u];
        }
      }
    }
  }
  if (idx >= tiles) { return; }
  for (var r = 0u; r < TM; r++) {
    if (m0 + r >= p.M) { break; }
    for (var c = 0u; c < TN; c++) {
      if (n40 + c < p.N4) { epilogue(m0 + r, n40 + c, acc[r * TN + c]); }
    }
  }
}
