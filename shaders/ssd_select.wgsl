// SSD head, passes 2-4: pick a pool of at most poolCap candidates that surely holds the top kCap
// by key (radix select, DIGIT_BITS per level, most significant first), and gather it.
//
// After level L's scan, candidates whose first L+1 digits are above the boundary digits are in;
// those equal to them (the boundary bin) are in too once the total fits the pool, otherwise the
// next level histograms the boundary bin alone. Keys are distinct, so the last level always fits.
// Levels after the one that fits return at once.

// Thread t of the scan sums bins [BINS - CHUNK (t + 1), BINS - CHUNK t): chunks run from the top bin down.
const SCAN_THREADS = 64u;
const CHUNK = BINS / SCAN_THREADS;
var<workgroup> chunk_sum: array<u32, SCAN_THREADS>;

@compute @workgroup_size(SCAN_THREADS)
fn select_scan(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let n = wg.y;
  var s = 0u;
  for (var i = 0u; i < CHUNK; i++) {
    s += atomicLoad(&counters[hist(n, p.level, BINS - 1u - (t * CHUNK + i))]);
  }
  chunk_sum[t] = s;
  workgroupBarrier();
  if (t != 0u || atomicLoad(&counters[state(n, ST_DONE)]) != 0u) { return; }

  if (p.level == 0u && candidate_count(n) <= p.poolCap) {
    atomicStore(&counters[state(n, ST_LEVELS)], 0u);
    atomicStore(&counters[state(n, ST_DONE)], 1u);
    return;
  }
  // The boundary bin is the one where the count from the top reaches `need`.
  let above = atomicLoad(&counters[state(n, ST_ABOVE)]);
  let need = p.kCap - above;
  var cum = 0u;
  var chunk = 0u;
  while (chunk + 1u < SCAN_THREADS && cum + chunk_sum[chunk] < need) {
    cum += chunk_sum[chunk];
    chunk++;
  }
  var bin = BINS - 1u - chunk * CHUNK;
  var pop = atomicLoad(&counters[hist(n, p.level, bin)]);
  for (var i = 1u; i < CHUNK && cum + pop < need; i++) {
    cum += pop;
    bin--;
    pop = atomicLoad(&counters[hist(n, p.level, bin)]);
  }
  atomicStore(&counters[state(n, ST_ABOVE)], above + cum);
  atomicStore(&counters[state(n, ST_DIGITS + p.level)], bin);
  if (above + cum + pop <= p.poolCap) {
    atomicStore(&counters[state(n, ST_LEVELS)], p.level + 1u);
    atomicStore(&counters[state(n, ST_DONE)], 1u);
  }
}

fn boundary_digits(n: u32) -> array<u32, 8> {
  var d: array<u32, 8>;
  for (var l = 0u; l < p.levels; l++) { d[l] = atomicLoad(&counters[state(n, ST_DIGITS + l)]); }
  return d;
}

@compute @workgroup_size(WG_SIZE)
fn select_hist(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = gid.y;
  if (atomicLoad(&counters[state(n, ST_DONE)]) != 0u) { return; }
  let d = boundary_digits(n);
  let count = candidate_count(n);
  for (var i = gid.x; i < count; i += grid_stride(nwg)) {
    let at = n * p.workStride + i * 2u;
    let hi = work[at];
    let lo = work[at + 1u];
    var in_boundary = true;
    for (var l = 0u; l < p.level && in_boundary; l++) { in_boundary = key_digit(hi, lo, l) == d[l]; }
    if (in_boundary) { atomicAdd(&counters[hist(n, p.level, key_digit(hi, lo, p.level))], 1u); }
  }
}

@compute @workgroup_size(WG_SIZE)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = gid.y;
  let levels = atomicLoad(&counters[state(n, ST_LEVELS)]);
  let d = boundary_digits(n);
  let count = candidate_count(n);
  for (var i = gid.x; i < count; i += grid_stride(nwg)) {
    let at = n * p.workStride + i * 2u;
    let hi = work[at];
    let lo = work[at + 1u];
    var take = true;
    for (var l = 0u; l < levels; l++) {
      let x = key_digit(hi, lo, l);
      if (x != d[l]) {
        take = x > d[l];
        break;
      }
    }
    if (take) {
      let slot = atomicAdd(&counters[state(n, ST_POOL)], 1u);
      if (slot < p.poolCap) {
        let to = n * p.workStride + p.poolOff + slot * 2u;
        work[to] = hi;
        work[to + 1u] = lo;
      }
    }
  }
}
