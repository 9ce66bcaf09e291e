/** Shapes as plain number arrays (NHWC activations, any-rank constants). */
export function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
