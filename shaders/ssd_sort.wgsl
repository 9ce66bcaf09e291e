// SSD head, passes 5-6: sort the pool by key, descending, and decode the first kCap entries into
// sorted records (ymin, xmin, ymax, xmax, score, class, anchor, 0). Keys are distinct, so ranks
// are too and the order is deterministic.
//   chunk_sort   rank of each entry inside its chunk of SORT_CHUNK entries -> chunk-sorted copy
//   merge_rank   global rank = rank in its chunk + binary search in every other chunk
// About P * SORT_CHUNK + P * P / SORT_CHUNK * log2(SORT_CHUNK) comparisons instead of P * P for a
// plain rank sort; the host picks SORT_CHUNK (a power of two) to balance the two terms.

override SORT_CHUNK: u32 = 64u;

fn pool_key(n: u32, base: u32, i: u32) -> vec2<u32> {
  let at = n * p.workStride + base + i * 2u;
  return vec2<u32>(work[at], work[at + 1u]);
}

fn greater(a: vec2<u32>, b: vec2<u32>) -> bool {
  return key_greater(a.x, a.y, b.x, b.y);
}

@compute @workgroup_size(WG_SIZE)
fn chunk_sort(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = gid.y;
  let count = pool_count(n);
  for (var i = gid.x; i < count; i += grid_stride(nwg)) {
    let k = pool_key(n, p.poolOff, i);
    let start = i - i % SORT_CHUNK;
    let end = min(start + SORT_CHUNK, count);
    var rank = 0u;
    for (var j = start; j < end; j++) { rank += u32(greater(pool_key(n, p.poolOff, j), k)); }
    let at = n * p.workStride + p.chunkedOff + (start + rank) * 2u;
    work[at] = k.x;
    work[at + 1u] = k.y;
  }
}

fn decode(n: u32, anchor: u32) -> vec4<f32> {
  let t = raw_yxhw(n, anchor);
  let a = anchors[anchor];
  let yc = t.x / p.scales.x * a.z + a.x;
  let xc = t.y / p.scales.y * a.w + a.y;
  let hw = box_size(t, a);
  return vec4<f32>(yc - hw.x / 2.0, xc - hw.y / 2.0, yc + hw.x / 2.0, xc + hw.y / 2.0);
}

// Keypoints as (x, y) pairs after the 8 record words, decoded like the box centre.
fn write_keypoints(n: u32, anchor: u32, at: u32) {
  let a = anchors[anchor];
  for (var k = 0u; k < NUM_KEYPOINTS; k++) {
    let o = p.kpOffset + k * p.kpStride;
    var v = vec2<f32>(raw_box(n, anchor, o), raw_box(n, anchor, o + 1u));
    if (p.xywh == 0u) { v = v.yx; }
    work[at + 8u + 2u * k] = bitcast<u32>(v.x / p.scales.y * a.w + a.y);
    work[at + 9u + 2u * k] = bitcast<u32>(v.y / p.scales.x * a.z + a.x);
  }
}

@compute @workgroup_size(WG_SIZE)
fn merge_rank(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = gid.y;
  let count = pool_count(n);
  for (var i = gid.x; i < count; i += grid_stride(nwg)) {
    let k = pool_key(n, p.chunkedOff, i);
    let own = i - i % SORT_CHUNK;
    var rank = i - own;
    for (var start = 0u; start < count; start += SORT_CHUNK) {
      if (start == own) { continue; }
      // Entries of this chunk greater than k form its prefix (the chunk is sorted descending).
      var lo = 0u;
      var hi = min(SORT_CHUNK, count - start);
      while (lo < hi) {
        let mid = (lo + hi) / 2u;
        if (greater(pool_key(n, p.chunkedOff, start + mid), k)) { lo = mid + 1u; } else { hi = mid; }
      }
      rank += lo;
    }
    if (rank >= p.kCap) { continue; }
    let id = p.maxId - k.y;
    let anchor = id / p.numClasses;
    let box = decode(n, anchor);
    let at = sorted_index(n, rank);
    work[at] = bitcast<u32>(box.x);
    work[at + 1u] = bitcast<u32>(box.y);
    work[at + 2u] = bitcast<u32>(box.z);
    work[at + 3u] = bitcast<u32>(box.w);
    work[at + 4u] = k.x;
    work[at + 5u] = id % p.numClasses;
    work[at + 6u] = anchor;
    work[at + 7u] = 0u;
    write_keypoints(n, anchor, at);
  }
}
