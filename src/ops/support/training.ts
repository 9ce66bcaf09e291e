/**
 * What training asks of an op (src/train/): its backward pass on the GPU, and a float64 CPU reference
 * of forward and backward that the gradient checks compare the GPU against. Ops without `train`
 * cannot be in the trained part of a graph.
 */
import type { OutputView } from '../../core/geometry.ts';
import type { GpuContext } from '../../gpu/context.ts';
import type { Dispatch } from '../../gpu/dispatch.ts';
import type { GraphNode, ShapeContext } from './node.ts';

export interface BackwardContext extends ShapeContext {
  readonly ctx: GpuContext;
  /** An activation's shape with the batch as dimension 0. */
  shape(t: string): number[];
  /** The forward value of a tensor (kept for the backward pass). */
  value(t: string): GPUBufferBinding;
  /** Where dL/dt accumulates; undefined for tensors from outside the trained region (frozen features, the image). */
  grad(t: string): GPUBufferBinding | undefined;
  param(name: string): GPUBufferBinding;
  paramGrad(name: string): GPUBufferBinding;
  /** The view the node's forward step wrote its output through, when that is a concatenation slice. */
  sliceView(n: GraphNode): OutputView | undefined;
  /** Scratch of the largest `scratchFloats` among the region's nodes, reused node after node. */
  readonly scratch: GPUBufferBinding;
}

export interface Reference64Context extends ShapeContext {
  readonly batch: number;
  shape(t: string): number[];
  param(name: string): ArrayLike<number>;
}

export interface Gradients64 {
  /** dL/d(input k), in input order; undefined where the op passes none. */
  inputs: (Float64Array | undefined)[];
  /** dL/d(constant), by constant name. */
  params: [string, Float64Array][];
}

export interface TrainHooks<N extends GraphNode> {
  /** Floats of scratch its backward dispatches need (im2col buffers). */
  scratchFloats?(n: N, bc: Pick<BackwardContext, 'shape' | 'constShape'>): number;
  /** Dispatches that add dL/d(inputs) into bc.grad and dL/d(constants) into bc.paramGrad, given dL/d(output). */
  backward(n: N, bc: BackwardContext): Promise<Dispatch[]>;
  forward64(n: N, inputs: readonly Float64Array[], cx: Reference64Context): Float64Array;
  backward64(
    n: N,
    inputs: readonly Float64Array[],
    y: Float64Array,
    dy: Float64Array,
    cx: Reference64Context,
  ): Gradients64;
}
