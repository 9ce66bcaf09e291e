// SSD head, pass 1 with subgroups (appended to ssd_score.wgsl, whose helpers it uses): a subgroup scores one
// anchor at a time, its lanes over the classes (lane, lane + size, ...), so a row's logits are read side by
// side instead of one strided row per invocation.
//   best class    each lane's own best (strictly greater, NaN never wins), then subgroupMax and the lowest
//                 class holding that value: the class `score` picks, with that class's own score bits.
//   per class     one ballot and one atomicAdd per subgroup and chunk of classes for the list slots.
// Every invocation owns the anchor it owns in `score`, and the subgroup walks its lanes' anchors in turn, so
// the anchors scored do not depend on the subgroup size or on how the driver groups invocations. No lane
// returns early: every subgroup operation runs with all lanes active (the host requires subgroups no wider
// than the workgroup, whose size is a multiple of any power-of-two subgroup size up to it).
// Candidates and their keys are those of `score`; only their order in the list differs, and every later pass
// orders by key, so detections are bit-identical.

fn lanes_below(ballot: vec4<u32>, lane: u32) -> u32 {
  var below = 0u;
  for (var i = 0u; i < 4u; i++) {
    let first_lane = i * 32u;
    if (lane >= first_lane + 32u) {
      below += countOneBits(ballot[i]);
    } else if (lane > first_lane) {
      below += countOneBits(ballot[i] & ((1u << (lane - first_lane)) - 1u));
    }
  }
  return below;
}

@compute @workgroup_size(WG_SIZE)
fn score_subgroup(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) size: u32,
) {
  let n = gid.y;
  let own_live = gid.x < p.numAnchors && box_valid(n, gid.x);
  let C = p.numClasses;
  let threshold = opt.scoreThreshold;
  let per_class = opt.perClassNms != 0u;
  for (var j = 0u; j < size; j++) {
    let a = subgroupShuffle(gid.x, j);
    let live = subgroupShuffle(u32(own_live), j) != 0u;
    let row = (n * p.numAnchors + min(a, p.numAnchors - 1u)) * C;
    // Softmax terms in the fallback's order (the sum's rounding depends on it): every lane walks the row.
    var row_max = 0.0;
    var row_sum = 1.0;
    if (p.scoreMode == 1u && live) {
      row_max = f32(raw_logits[row]);
      for (var c = 1u; c < C; c++) { row_max = max(row_max, f32(raw_logits[row + c])); }
      row_sum = 0.0;
      for (var c = 0u; c < C; c++) { row_sum += exp(f32(raw_logits[row + c]) - row_max); }
    }
    var best = -1.0;
    var best_class = 0u;
    for (var c0 = 0u; c0 < C; c0 += size) {
      let c = c0 + lane;
      let counted = live && c < C && reportable(c);
      var s = -1.0;
      if (counted) { s = class_score(f32(raw_logits[row + c]), row_max, row_sum); }
      if (counted && s > best) {
        best = s;
        best_class = c;
      }
      // per_class comes from a uniform buffer: the subgroup operations below stay in uniform control flow.
      if (per_class) {
        let take = counted && s >= threshold;
        let ballot = subgroupBallot(take);
        let total = countOneBits(ballot.x) + countOneBits(ballot.y) + countOneBits(ballot.z) + countOneBits(ballot.w);
        let first = subgroupElect();
        var base = 0u;
        if (first && total != 0u) { base = atomicAdd(&counters[state(n, ST_COUNT)], total); }
        base = subgroupMax(base);
        if (take) { append_at(n, base + lanes_below(ballot, lane), s, a * C + c); }
      }
    }
    let top = subgroupMax(best);
    let winner = subgroupMin(select(0xffffffffu, best_class, best == top));
    let winner_lane = subgroupMin(select(0xffffffffu, lane, best == top && best_class == winner));
    if (!per_class && live && lane == winner_lane && best >= threshold) { append(n, best, a * C + best_class); }
  }
}
