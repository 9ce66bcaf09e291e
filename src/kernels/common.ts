/** Weight layout helpers shared by the kernels' packing code. */

/** Zero-pads the last axis of a row-major tensor from `n` to a multiple of 4 (vec4 loads). */
export function padLastDimTo4(data: Float32Array, n: number): Float32Array {
  const n4 = Math.ceil(n / 4) * 4;
  if (n4 === n) return data;
  const rows = data.length / n;
  const out = new Float32Array(rows * n4);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * n, r * n + n), r * n4);
  return out;
}
