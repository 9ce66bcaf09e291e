// SSD head, last pass: greedy NMS over the sorted candidates, one workgroup per image, in blocks
// of NMS_BLOCK candidates. Each invocation takes one candidate of the block, drops it if a box
// kept earlier suppresses it, and computes which later candidates of the block it would suppress;
// invocation 0 then resolves the block in order with bit operations and writes the kept ones.
// The walk stops once maxDetections are kept, so typical work is a few blocks, and never more than
// candidates x (kept + NMS_BLOCK) IoU tests.

fn sorted_box(n: u32, i: u32) -> vec4<f32> {
  let at = sorted_index(n, i);
  return vec4<f32>(bitcast<f32>(work[at]), bitcast<f32>(work[at + 1u]), bitcast<f32>(work[at + 2u]), bitcast<f32>(work[at + 3u]));
}

fn sorted_class(n: u32, i: u32) -> u32 {
  return work[sorted_index(n, i) + 5u];
}

// iou > threshold, without the division: exact for exactly representable boxes, whatever the
// driver's division accuracy (WGSL allows 2.5 ULP). An empty union gives false, like IoU 0.
fn overlaps(a: vec4<f32>, b: vec4<f32>) -> bool {
  let ih = max(0.0, min(a.z, b.z) - max(a.x, b.x));
  let iw = max(0.0, min(a.w, b.w) - max(a.y, b.y));
  let inter = ih * iw;
  let uni = (a.z - a.x) * (a.w - a.y) + (b.z - b.x) * (b.w - b.y) - inter;
  return inter > opt.iouThreshold * uni;
}

const NMS_BLOCK = 64u;
var<workgroup> block_rows: array<vec2<u32>, NMS_BLOCK>;
var<workgroup> block_live: array<u32, NMS_BLOCK>;
var<workgroup> shared_u32: u32;

fn kept_index(n: u32, k: u32) -> u32 {
  return n * p.outStride + OUT_HEADER_WORDS + k * RECORD_WORDS;
}

fn suppresses(per_class: bool, a: vec4<f32>, class_a: u32, b: vec4<f32>, class_b: u32) -> bool {
  return (!per_class || class_a == class_b) && overlaps(a, b);
}

@compute @workgroup_size(NMS_BLOCK)
fn nms(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let n = wg.y;
  if (t == 0u) { shared_u32 = sorted_count(n); }
  // Loop bounds must be workgroup-uniform for the barriers: they go through workgroup memory.
  let count = workgroupUniformLoad(&shared_u32);
  let max_det = min(opt.maxDetections, p.detCap);
  let per_class = opt.perClassNms != 0u;
  var kept = 0u;
  for (var start = 0u; start < count && kept < max_det; start += NMS_BLOCK) {
    let i = start + t;
    var live = i < count;
    var box = vec4<f32>(0.0);
    var cls = 0u;
    var row = vec2<u32>(0u);
    if (live) {
      box = sorted_box(n, i);
      cls = sorted_class(n, i);
      for (var k = 0u; k < kept && live; k++) {
        let r = kept_index(n, k);
        let kept_box = vec4<f32>(bitcast<f32>(out[r]), bitcast<f32>(out[r + 1u]), bitcast<f32>(out[r + 2u]), bitcast<f32>(out[r + 3u]));
        live = !suppresses(per_class, kept_box, out[r + 5u], box, cls);
      }
    }
    if (live) {
      for (var j = t + 1u; j < NMS_BLOCK && start + j < count; j++) {
        if (suppresses(per_class, box, cls, sorted_box(n, start + j), sorted_class(n, start + j))) { row[j / 32u] |= 1u << (j % 32u); }
      }
    }
    block_rows[t] = row;
    block_live[t] = u32(live);
    workgroupBarrier();
    if (t == 0u) {
      var k = kept;
      var dead = vec2<u32>(0u);
      for (var j = 0u; j < NMS_BLOCK && k < max_det; j++) {
        if (block_live[j] == 0u || ((dead[j / 32u] >> (j % 32u)) & 1u) != 0u) { continue; }
        let src = sorted_index(n, start + j);
        let dst = kept_index(n, k);
        for (var w = 0u; w < RECORD_WORDS; w++) { out[dst + w] = work[src + w]; }
        k++;
        dead |= block_rows[j];
      }
      shared_u32 = k;
    }
    // The next block reads the records just written to `out`.
    storageBarrier();
    kept = workgroupUniformLoad(&shared_u32);
  }
  if (t == 0u) {
    let o = n * p.outStride;
    out[o] = kept;
    out[o + 1u] = atomicLoad(&counters[state(n, ST_COUNT)]);
    out[o + 2u] = count;
    out[o + 3u] = 0u;
  }
}

// Weighted NMS (MediaPipe's face and palm graphs), after `nms` has kept its boxes: each sorted candidate
// joins the cluster of the first kept box (in score order) that suppresses it, which is where MediaPipe's
// loop removes it; each kept box and its keypoints become the score-weighted mean of their cluster. Sums run
// in score order in float32, as MediaPipe's do. Scores stay the kept boxes' own. A no-op for greedy NMS.
// Cluster ids go in the pool area of `work`, free once merge_rank has run.
fn cluster_index(n: u32, i: u32) -> u32 {
  return n * p.workStride + p.poolOff + i;
}

const NO_CLUSTER = 0xffffffffu;

@compute @workgroup_size(NMS_BLOCK)
fn nms_weighted(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  if (opt.weighted == 0u) { return; }
  let n = wg.y;
  let o = n * p.outStride;
  let kept = out[o];
  let count = sorted_count(n);
  let per_class = opt.perClassNms != 0u;
  for (var i = t; i < count; i += NMS_BLOCK) {
    let box = sorted_box(n, i);
    let cls = sorted_class(n, i);
    var cluster = NO_CLUSTER;
    for (var k = 0u; k < kept && cluster == NO_CLUSTER; k++) {
      let r = kept_index(n, k);
      let kept_box = vec4<f32>(bitcast<f32>(out[r]), bitcast<f32>(out[r + 1u]), bitcast<f32>(out[r + 2u]), bitcast<f32>(out[r + 3u]));
      if (suppresses(per_class, kept_box, out[r + 5u], box, cls)) { cluster = k; }
    }
    work[cluster_index(n, i)] = cluster;
  }
  // Every cluster id is written before any kept box changes.
  storageBarrier();
  workgroupBarrier();
  for (var k = t; k < kept; k += NMS_BLOCK) {
    var total = 0.0;
    var box = vec4<f32>(0.0);
    var points: array<f32, KP_VALUES>;
    for (var i = 0u; i < count; i++) {
      if (work[cluster_index(n, i)] != k) { continue; }
      let at = sorted_index(n, i);
      let s = bitcast<f32>(work[at + 4u]);
      total += s;
      box += sorted_box(n, i) * s;
      for (var j = 0u; j < 2u * NUM_KEYPOINTS; j++) { points[j] += bitcast<f32>(work[at + 8u + j]) * s; }
    }
    if (total > 0.0) {
      let r = kept_index(n, k);
      for (var j = 0u; j < 4u; j++) { out[r + j] = bitcast<u32>(box[j] / total); }
      for (var j = 0u; j < 2u * NUM_KEYPOINTS; j++) { out[r + 8u + j] = bitcast<u32>(points[j] / total); }
    }
  }
}
