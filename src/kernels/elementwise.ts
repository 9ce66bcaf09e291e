/** Stand-alone element-wise ops (add with clamp, logistic) for graphs where they cannot be fused. */
import addSource from '../../shaders/add.wgsl';
import logisticSource from '../../shaders/logistic.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Clamp } from '../core/geometry.ts';
import { withStorage, type StorageType } from './storage.ts';

export const ElementwiseParams = uniformSchema('Params', { count: 'u32', clampMin: 'f32', clampMax: 'f32' });

export function addPipeline(
  ctx: GpuContext,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`add/${storage}/wg${workgroupSize}`, () => ({
    label: 'add',
    code: withStorage(storage, ElementwiseParams.wgsl + addSource),
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw', 'rw'],
  }));
}

export function logisticPipeline(
  ctx: GpuContext,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`logistic/${storage}/wg${workgroupSize}`, () => ({
    label: 'logistic',
    code: withStorage(storage, ElementwiseParams.wgsl + logisticSource),
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

export function addDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  count: number,
  act: Clamp,
  a: Binding,
  b: Binding,
  y: Binding,
  label = 'add',
): Dispatch {
  return makeDispatch(
    ctx,
    pipe,
    ElementwiseParams,
    { count, clampMin: act.min, clampMax: act.max },
    [a, b, y],
    { threads: count, workgroupSize: 64 },
    { label, op: 'add', flops: count, bytes: 12 * count },
  );
}

export function logisticDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  count: number,
  x: Binding,
  y: Binding,
  label = 'logistic',
): Dispatch {
  return makeDispatch(
    ctx,
    pipe,
    ElementwiseParams,
    { count, clampMin: 0, clampMax: 1 },
    [x, y],
    { threads: count, workgroupSize: 64 },
    { label, op: 'logistic', flops: 4 * count, bytes: 8 * count },
  );
}

export function addRef(a: Float32Array, b: Float32Array, act: Clamp): Float32Array {
  return a.map((v, i) => Math.min(Math.max(v + b[i]!, act.min), act.max));
}

export function logisticRef(x: Float32Array): Float32Array {
  return x.map((v) => 1 / (1 + Math.exp(-v)));
}
