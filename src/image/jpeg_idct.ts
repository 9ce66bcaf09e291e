/**
 * Dequantisation and the 8x8 inverse DCT, in the integer arithmetic jpeg-js uses (poppler's fixed-point form
 * of Loeffler, Ligtenberg and Moschytz, "Practical fast 1-D DCT algorithms with 11 multiplications", 1989):
 * the same constants, shifts and rounding at every stage, so the samples are identical to jpeg-js's, which
 * the engine's parity figures were measured on.
 */

// Constants in 12-bit fixed point.
const C1 = 4017; // cos(pi/16)
const S1 = 799; // sin(pi/16)
const C3 = 3406; // cos(3pi/16)
const S3 = 2276; // sin(3pi/16)
const C6 = 1567; // cos(6pi/16)
const S6 = 3784; // sin(6pi/16)
const R2 = 5793; // sqrt(2)
const R2H = 2896; // sqrt(2) / 2

/** Natural (row-major) position of the k-th coefficient in zig-zag order. */
export const ZIGZAG = zigzagOrder();

function zigzagOrder(): Int32Array {
  const order = new Int32Array(64);
  let k = 0;
  for (let d = 0; d < 15; d++) {
    // Even diagonals run up and to the right, odd ones down and to the left.
    for (let i = 0; i <= d; i++) {
      const row = d % 2 === 0 ? d - i : i;
      const col = d - row;
      if (row < 8 && col < 8) order[k++] = row * 8 + col;
    }
  }
  return order;
}

/**
 * Writes the 8x8 samples of the block at `coef[at..at+64)` (natural order, quantised) to `out`, row by row
 * `stride` apart from `outAt`. `work` is 64 int32 of scratch (its wrap-around on absurd coefficients is part
 * of the arithmetic being matched).
 */
export function idctBlock(
  coef: Int16Array | Int32Array,
  at: number,
  qt: Int32Array,
  work: Int32Array,
  out: Uint8Array,
  outAt: number,
  stride: number,
): void {
  const p = work;
  for (let i = 0; i < 64; i++) p[i] = coef[at + i]! * qt[i]!;

  for (let r = 0; r < 64; r += 8) {
    const x0 = p[r]!,
      x1 = p[r + 1]!,
      x2 = p[r + 2]!,
      x3 = p[r + 3]!,
      x4 = p[r + 4]!,
      x5 = p[r + 5]!,
      x6 = p[r + 6]!,
      x7 = p[r + 7]!;
    if ((x1 | x2 | x3 | x4 | x5 | x6 | x7) === 0) {
      const dc = (R2 * x0 + 512) >> 10;
      for (let i = 0; i < 8; i++) p[r + i] = dc;
      continue;
    }
    // The row pass keeps 8 fractional bits in its even part and pre-scales the odd part by 16.
    const h = (R2H * (x1 - x7) + 128) >> 8;
    const g = (R2H * (x1 + x7) + 128) >> 8;
    butterflies(p, r, 1, (R2 * x0 + 128) >> 8, (R2 * x4 + 128) >> 8, x2, x6, h, x3 << 4, x5 << 4, g, 128, 8);
  }

  for (let c = 0; c < 8; c++) {
    const x0 = p[c]!,
      x1 = p[c + 8]!,
      x2 = p[c + 16]!,
      x3 = p[c + 24]!,
      x4 = p[c + 32]!,
      x5 = p[c + 40]!,
      x6 = p[c + 48]!,
      x7 = p[c + 56]!;
    if ((x1 | x2 | x3 | x4 | x5 | x6 | x7) === 0) {
      const dc = (R2 * x0 + 8192) >> 14;
      for (let i = 0; i < 64; i += 8) p[c + i] = dc;
      continue;
    }
    const h = (R2H * (x1 - x7) + 2048) >> 12;
    const g = (R2H * (x1 + x7) + 2048) >> 12;
    butterflies(p, c, 8, (R2 * x0 + 2048) >> 12, (R2 * x4 + 2048) >> 12, x2, x6, h, x3, x5, g, 2048, 12);
  }

  for (let y = 0; y < 8; y++) {
    const o = outAt + y * stride;
    for (let x = 0; x < 8; x++) {
      const s = 128 + ((p[y * 8 + x]! + 8) >> 4);
      out[o + x] = s < 0 ? 0 : s > 255 ? 255 : s;
    }
  }
}

/**
 * Stages 3 to 1 of the 1-D transform on prepared inputs, writing 8 outputs `step` apart from `at`. The
 * rotation of the even part rounds with `half >> shift` (the pass's own precision); the odd rotations
 * always use 12 bits.
 */
function butterflies(
  p: Int32Array,
  at: number,
  step: number,
  e0: number,
  e1: number,
  e2: number,
  e3: number,
  o4: number,
  o5: number,
  o6: number,
  o7: number,
  half: number,
  shift: number,
): void {
  // Stage 3.
  let t = (e0 - e1 + 1) >> 1;
  e0 = (e0 + e1 + 1) >> 1;
  e1 = t;
  t = (e2 * S6 + e3 * C6 + half) >> shift;
  e2 = (e2 * C6 - e3 * S6 + half) >> shift;
  e3 = t;
  t = (o4 - o6 + 1) >> 1;
  o4 = (o4 + o6 + 1) >> 1;
  o6 = t;
  t = (o7 + o5 + 1) >> 1;
  o5 = (o7 - o5 + 1) >> 1;
  o7 = t;
  // Stage 2.
  t = (e0 - e3 + 1) >> 1;
  e0 = (e0 + e3 + 1) >> 1;
  e3 = t;
  t = (e1 - e2 + 1) >> 1;
  e1 = (e1 + e2 + 1) >> 1;
  e2 = t;
  t = (o4 * S3 + o7 * C3 + 2048) >> 12;
  o4 = (o4 * C3 - o7 * S3 + 2048) >> 12;
  o7 = t;
  t = (o5 * S1 + o6 * C1 + 2048) >> 12;
  o5 = (o5 * C1 - o6 * S1 + 2048) >> 12;
  o6 = t;
  // Stage 1.
  p[at] = e0 + o7;
  p[at + 7 * step] = e0 - o7;
  p[at + step] = e1 + o6;
  p[at + 6 * step] = e1 - o6;
  p[at + 2 * step] = e2 + o5;
  p[at + 5 * step] = e2 - o5;
  p[at + 3 * step] = e3 + o4;
  p[at + 4 * step] = e3 - o4;
}
