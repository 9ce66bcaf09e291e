/** CPU reference of the activation mask: the gradient of clamp(z, lo, hi) given its output y. */
import type { Clamp } from '../core/geometry.ts';

export function clampBackwardRef(y: ArrayLike<number>, dy: ArrayLike<number>, act: Clamp): Float64Array {
  const out = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) out[i] = y[i]! > act.min && y[i]! < act.max ? dy[i]! : 0;
  return out;
}
