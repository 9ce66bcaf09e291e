// Shared by every SSD head pass: one bind-group layout for all of them, the per-image state words
// and the candidate sort key. `HeadParams`, `HeadOptions` and the layout constants (STATE_WORDS,
// BINS, DIGIT_BITS, OUT_HEADER_WORDS, RECORD_WORDS, NUM_KEYPOINTS, KP_VALUES) are generated in TS and prepended.
//
// Sort key of a candidate: hi = bits of its score (a float in [0, 1], so the bits order like the
// values and bits 31..30 are zero), lo = maxId - (anchor * C + class). Comparing (hi, lo)
// lexicographically, larger first, is the reference order: score desc, anchor asc, class asc.
// Every key is distinct, so any parallel algorithm that sorts by it is deterministic.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> p: HeadParams;
@group(0) @binding(1) var<uniform> opt: HeadOptions;
// One bit per class: reportable (allowed, not background, not "???").
@group(0) @binding(2) var<storage, read> allowed: array<u32>;
// (yc, xc, h, w) per anchor.
@group(0) @binding(3) var<storage, read> anchors: array<vec4<f32>>;
// [N, A, boxStride]: the box's four values at boxOffset (yxhw or xywh), keypoints from kpOffset.
@group(0) @binding(4) var<storage, read> raw_boxes: array<st>; // st: the network's storage type (kernels/storage.ts)
// [N, A, C] raw logits.
@group(0) @binding(5) var<storage, read> raw_logits: array<st>;
// Per image: STATE_WORDS state words, then one BINS histogram per selection level.
@group(0) @binding(6) var<storage, read_write> counters: array<atomic<u32>>;
// Per image: candidates (hi, lo), pool (hi, lo), sorted records, IoU mask rows.
@group(0) @binding(7) var<storage, read_write> work: array<u32>;
@group(0) @binding(8) var<storage, read_write> out: array<u32>;

// State words of one image (offsets inside its STATE_WORDS).
const ST_COUNT = 0u;   // candidates appended by the score pass
const ST_DONE = 1u;    // 1 once the selected prefix fits in the pool
const ST_LEVELS = 2u;  // how many digits define the pool (0: every candidate)
const ST_ABOVE = 3u;   // candidates whose key is above the boundary prefix
const ST_POOL = 4u;    // pool entries gathered
const ST_DIGITS = 8u;  // boundary digit of each level

fn raw_box(n: u32, anchor: u32, j: u32) -> f32 {
  return f32(raw_boxes[(n * p.numAnchors + anchor) * p.boxStride + j]);
}

// The box's (ty, tx, th, tw), whichever order the model writes them in.
fn raw_yxhw(n: u32, anchor: u32) -> vec4<f32> {
  let o = p.boxOffset;
  let t = vec4<f32>(raw_box(n, anchor, o), raw_box(n, anchor, o + 1u), raw_box(n, anchor, o + 2u), raw_box(n, anchor, o + 3u));
  if (p.xywh != 0u) { return t.yxwz; }
  return t;
}

// Box height and width: exp(t / scale) * anchor (TF's box coder) or t / scale * anchor (linear, BlazeFace).
fn box_size(t: vec4<f32>, a: vec4<f32>) -> vec2<f32> {
  if (p.expSize != 0u) { return vec2<f32>(exp(t.z / p.scales.z) * a.z, exp(t.w / p.scales.w) * a.w); }
  return vec2<f32>(t.z / p.scales.z * a.z, t.w / p.scales.w * a.w);
}

fn state(n: u32, word: u32) -> u32 {
  return n * p.cntStride + word;
}

fn hist(n: u32, level: u32, bin: u32) -> u32 {
  return n * p.cntStride + STATE_WORDS + level * BINS + bin;
}

// Digit `level` (most significant first, DIGIT_BITS wide) of the keyBits-bit number hi:lo, where
// lo holds idBits bits.
fn key_digit(hi: u32, lo: u32, level: u32) -> u32 {
  let top = p.keyBits - level * DIGIT_BITS;
  let width = min(DIGIT_BITS, top);
  let shift = top - width;
  var v: u32;
  if (shift >= p.idBits) {
    v = hi >> (shift - p.idBits);
  } else {
    v = (hi << (p.idBits - shift)) | (lo >> shift);
  }
  return v & ((1u << width) - 1u);
}

fn key_greater(hi_a: u32, lo_a: u32, hi_b: u32, lo_b: u32) -> bool {
  return hi_a > hi_b || (hi_a == hi_b && lo_a > lo_b);
}

// The passes over a list stride over it with however many workgroups were dispatched per image
// (grid x), so the dispatch size stays fixed while the list length lives on the GPU.
fn grid_stride(nwg: vec3<u32>) -> u32 {
  return nwg.x * WG_SIZE;
}

fn candidate_count(n: u32) -> u32 {
  return min(atomicLoad(&counters[state(n, ST_COUNT)]), p.candCap);
}

fn pool_count(n: u32) -> u32 {
  return min(atomicLoad(&counters[state(n, ST_POOL)]), p.poolCap);
}

fn sorted_count(n: u32) -> u32 {
  return min(pool_count(n), p.kCap);
}

fn sorted_index(n: u32, rank: u32) -> u32 {
  return n * p.workStride + p.sortedOff + rank * RECORD_WORDS;
}
