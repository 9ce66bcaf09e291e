// SSD head, passes 0-1: zero the per-image counters, then score every anchor and append the
// candidates (score >= threshold, reportable class) with their level-0 histogram counts.

@compute @workgroup_size(WG_SIZE)
fn clear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = gid.y;
  for (var i = gid.x; i < p.cntStride; i += grid_stride(nwg)) {
    atomicStore(&counters[n * p.cntStride + i], 0u);
  }
}

fn reportable(c: u32) -> bool {
  return ((allowed[c >> 5u] >> (c & 31u)) & 1u) != 0u;
}

// Scores are clamped to 1 so the key's top bits stay zero even if division rounds up.
fn class_score(logit: f32, row_max: f32, row_sum: f32) -> f32 {
  if (p.scoreMode == 1u) {
    return min(exp(logit - row_max) / row_sum, 1.0);
  }
  if (p.scoreMode == 2u) {
    return min(logit, 1.0);
  }
  var l = logit;
  if (p.scoreClip > 0.0) { l = clamp(l, -p.scoreClip, p.scoreClip); }
  return min(1.0 / (1.0 + exp(-l)), 1.0);
}

// MediaPipe drops rows whose linear sizes come out negative (or NaN) before NMS; exp sizes cannot.
fn box_valid(n: u32, a: u32) -> bool {
  if (p.expSize != 0u) { return true; }
  let hw = box_size(raw_yxhw(n, a), anchors[a]);
  return hw.x >= 0.0 && hw.y >= 0.0;
}

fn append(n: u32, score: f32, id: u32) {
  append_at(n, atomicAdd(&counters[state(n, ST_COUNT)], 1u), score, id);
}

// Writes a candidate into a list slot already taken, and counts it in the level-0 histogram.
fn append_at(n: u32, slot: u32, score: f32, id: u32) {
  let hi = bitcast<u32>(score);
  let lo = p.maxId - id;
  let at = n * p.workStride + slot * 2u;
  work[at] = hi;
  work[at + 1u] = lo;
  atomicAdd(&counters[hist(n, 0u, key_digit(hi, lo, 0u))], 1u);
}

@compute @workgroup_size(WG_SIZE)
fn score(@builtin(global_invocation_id) gid: vec3<u32>) {
  let a = gid.x;
  let n = gid.y;
  if (a >= p.numAnchors || !box_valid(n, a)) { return; }
  let C = p.numClasses;
  let row = (n * p.numAnchors + a) * C;
  var row_max = 0.0;
  var row_sum = 1.0;
  if (p.scoreMode == 1u) {
    row_max = f32(raw_logits[row]);
    for (var c = 1u; c < C; c++) { row_max = max(row_max, f32(raw_logits[row + c])); }
    row_sum = 0.0;
    for (var c = 0u; c < C; c++) { row_sum += exp(f32(raw_logits[row + c]) - row_max); }
  }
  let threshold = opt.scoreThreshold;
  if (opt.perClassNms != 0u) {
    for (var c = 0u; c < C; c++) {
      if (!reportable(c)) { continue; }
      let s = class_score(f32(raw_logits[row + c]), row_max, row_sum);
      if (s >= threshold) { append(n, s, a * C + c); }
    }
    return;
  }
  // Strictly greater keeps the lower class on ties; NaN never wins.
  var best = -1.0;
  var best_class = 0u;
  for (var c = 0u; c < C; c++) {
    if (!reportable(c)) { continue; }
    let s = class_score(f32(raw_logits[row + c]), row_max, row_sum);
    if (s > best) {
      best = s;
      best_class = c;
    }
  }
  if (best >= threshold) { append(n, best, a * C + best_class); }
}
