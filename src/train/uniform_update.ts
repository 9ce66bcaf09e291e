/** Rewrites a recorded dispatch's uniforms (its first owned buffer, see makeDispatch) for per-step values. */
import type { GpuContext } from '../gpu/context.ts';
import type { UniformSchema, UniformType, UniformValues } from '../gpu/uniforms.ts';
import type { Dispatch } from '../gpu/dispatch.ts';

export function updateUniforms<F extends Record<string, UniformType>>(
  ctx: GpuContext,
  d: Dispatch,
  schema: UniformSchema<F>,
  values: UniformValues<F>,
): void {
  ctx.queue.writeBuffer(d.owned[0]!, 0, schema.pack(values));
}
