// SSD training loss and its gradient (src/train/loss_ref.ts defines the semantics): one workgroup
// per image. Softmax cross-entropy on the matched default boxes and on the hardest negatives
// (negPerPos per matched box, largest background loss first, ties to the lower default box),
// smooth L1 on the matched boxes' encodings; gradients scaled by invN = 1 / (matched boxes in the
// whole optimizer step). Writes the unnormalized sums (confPos, confNeg, loc, positives) per image.
// With p.focal = 1 there is no mining: every default box takes the focal loss -w (1 - p_t)^gamma log p_t
// (w = focalAlpha matched, 1 - focalAlpha unmatched) and its gradient g (p_c - [c = t]).
//
// Hard negatives without a sort: the k-th largest mining key is found by a bitwise binary search
// (non-negative floats order like their bit patterns), counting keys above each candidate across
// the workgroup; keys equal to it are then taken in anchor order by one invocation.

const WG: u32 = 256u;
// A matched box's mining key; a tied negative chosen in the serial pass.
const MATCHED: f32 = -1.0;
const TIE_TAKEN: f32 = -2.0;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> boxes: array<f32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> targets: array<f32>;
@group(0) @binding(5) var<storage, read_write> keys: array<f32>;
@group(0) @binding(6) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(7) var<storage, read_write> dboxes: array<f32>;
@group(0) @binding(8) var<storage, read_write> parts: array<f32>;

var<workgroup> counter: atomic<u32>;
var<workgroup> broadcast: u32;
var<workgroup> sums: array<vec3<f32>, WG>;

// Sum of `local` over the workgroup, returned uniformly to every invocation.
fn workgroup_total(local: u32, li: u32) -> u32 {
  if (li == 0u) { atomicStore(&counter, 0u); }
  workgroupBarrier();
  atomicAdd(&counter, local);
  workgroupBarrier();
  if (li == 0u) { broadcast = atomicLoad(&counter); }
  return workgroupUniformLoad(&broadcast);
}

fn log_sum_exp(row: u32) -> f32 {
  var m = logits[row];
  for (var c = 1u; c < p.numClasses; c++) { m = max(m, logits[row + c]); }
  var s = 0.0;
  for (var c = 0u; c < p.numClasses; c++) { s += exp(logits[row + c] - m); }
  return m + log(s);
}

fn smooth_l1(d: f32) -> f32 {
  let a = abs(d);
  return select(a - 0.5, 0.5 * d * d, a < 1.0);
}

// Focal loss of one box and its gradient factor (loss_ref.ts focalTerm); lpt = log p_t.
fn focal_term(lpt: f32, matched: bool) -> vec2<f32> {
  let w = select(1.0 - p.focalAlpha, p.focalAlpha, matched);
  let pt = exp(lpt);
  let q = max(1.0 - pt, 0.0);
  if (q == 0.0) { return vec2<f32>(0.0); }
  let qg = pow(q, p.focalGamma);
  return vec2<f32>(-w * qg * lpt, w * (qg - p.focalGamma * pow(q, p.focalGamma - 1.0) * pt * lpt));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let b = wid.x;
  let A = p.numAnchors;
  let C = p.numClasses;

  // 1. Mining keys: the background loss of every unmatched default box. Each invocation keeps to
  //    the same anchors (li + j * WG) in every pass below except the serial tie pass.
  var pos = 0u;
  var neg = 0u;
  for (var a = li; a < A; a += WG) {
    let i = b * A + a;
    if (labels[i] > 0u) {
      keys[i] = MATCHED;
      pos++;
    } else {
      keys[i] = max(log_sum_exp(i * C) - logits[i * C], 0.0);
      neg++;
    }
  }
  let positives = workgroup_total(pos, li);
  let k = select(min(p.negPerPos * positives, workgroup_total(neg, li)), 0u, p.focal == 1u);

  // 2. The bit pattern of the k-th largest key.
  var kth = 0u;
  if (k > 0u) {
    for (var bit = 30i; bit >= 0i; bit--) {
      let candidate = kth | (1u << u32(bit));
      var n = 0u;
      for (var a = li; a < A; a += WG) {
        let v = keys[b * A + a];
        if (v >= 0.0 && bitcast<u32>(v) >= candidate) { n++; }
      }
      if (workgroup_total(n, li) >= k) { kth = candidate; }
    }
  }
  var above = 0u;
  for (var a = li; a < A; a += WG) {
    let v = keys[b * A + a];
    if (v >= 0.0 && bitcast<u32>(v) > kth) { above++; }
  }
  let greater = workgroup_total(above, li);
  storageBarrier();
  if (li == 0u && k > 0u) {
    var left = k - greater;
    for (var a = 0u; a < A && left > 0u; a++) {
      let v = keys[b * A + a];
      if (v >= 0.0 && bitcast<u32>(v) == kth) {
        keys[b * A + a] = TIE_TAKEN;
        left--;
      }
    }
  }
  storageBarrier();

  // 3. Losses and gradients.
  var acc = vec3<f32>(0.0); // confPos, confNeg, loc
  for (var a = li; a < A; a += WG) {
    let i = b * A + a;
    let label = labels[i];
    let v = keys[i];
    let mined = k > 0u && (v == TIE_TAKEN || (v >= 0.0 && bitcast<u32>(v) > kth));
    let row = i * C;
    for (var m = 0u; m < 4u; m++) { dboxes[i * 4u + m] = 0.0; }
    if (label == 0u && !mined && p.focal == 0u) {
      for (var c = 0u; c < C; c++) { dlogits[row + c] = 0.0; }
      continue;
    }
    let lse = log_sum_exp(row);
    var conf = lse - logits[row + label];
    var g = 1.0;
    if (p.focal == 1u) {
      let f = focal_term(logits[row + label] - lse, label > 0u);
      conf = f.x;
      g = f.y;
    } else if (label == 0u) {
      conf = select(v, bitcast<f32>(kth), v == TIE_TAKEN);
    }
    for (var c = 0u; c < C; c++) {
      dlogits[row + c] = p.invN * g * (exp(logits[row + c] - lse) - select(0.0, 1.0, c == label));
    }
    if (label == 0u) {
      acc.y += conf;
      continue;
    }
    acc.x += conf;
    for (var m = 0u; m < 4u; m++) {
      let d = boxes[i * 4u + m] - targets[i * 4u + m];
      acc.z += smooth_l1(d);
      dboxes[i * 4u + m] = p.invN * p.alpha * select(sign(d), d, abs(d) < 1.0);
    }
  }
  sums[li] = acc;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (li < half) { sums[li] += sums[li + half]; }
  }
  if (li == 0u) {
    parts[b * 4u] = sums[0].x;
    parts[b * 4u + 1u] = sums[0].y;
    parts[b * 4u + 2u] = sums[0].z;
    parts[b * 4u + 3u] = f32(positives);
  }
}
