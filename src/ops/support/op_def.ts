/**
 * What an operator is to the engine: one OpDef per op module (src/ops/<op>.ts), found by the registry
 * (registry.ts). Everything that needs to know an op asks its OpDef: the model format (parse), shape
 * inference and input resizing (outputShape, withInputShapes), the CPU reference executor (reference),
 * model statistics (cost), lowering to GPU kernels with fusion (lower), ONNX export (onnx), the TFLite
 * converter (tflite) and training (train).
 */
import type { Checker } from '../../core/checker.ts';
import type { OnnxBuilder, TfliteMapping } from './interchange.ts';
import type { LowerContext } from './lowering.ts';
import type { TrainHooks } from './training.ts';
import type { GraphNode, NodeBase, ShapeContext } from './node.ts';

/** Counted as the MobileNet paper does: parameters are filter + bias values, multiply-adds those of convolutions. */
export interface OpCost {
  params: number;
  macs: number;
  /** Activation bytes read and written plus parameter bytes, at float32. */
  bytes: number;
  /** Which of the paper's layer types it is, for ops that count as one. */
  layerType?: 'standard' | 'depthwise' | 'pointwise';
}

export interface ReferenceContext extends ShapeContext {
  readonly batch: number;
  /** Shape of an activation with the batch as dimension 0. */
  shape(t: string): number[];
  constant(name: string): Float32Array;
}

export interface OpDef<N extends GraphNode = GraphNode> {
  readonly op: N['op'];
  /** Number of inputs: exactly this many, or [min, max]. */
  readonly arity: number | readonly [number, number];
  /** Only moves values around (reshape, concatenation): graph walks may look through it. */
  readonly rearranges?: boolean;
  /**
   * The node's attributes from untrusted JSON, type-checked; `base` (name, inputs, outputs) is checked
   * already, and outputShape checks what depends on shapes. `what` names the node in messages.
   */
  parse(raw: Record<string, unknown>, base: NodeBase, c: Checker, what: string): N;
  /** Constants the node reads (filters, biases): stats, weight packing, training parameters. */
  constants?(n: N): string[];
  /** Output shape (batch 1) for these input shapes; ShapeError when they do not fit. */
  outputShape(n: N, inputs: readonly (readonly number[])[], cx: ShapeContext): number[];
  /**
   * For inputs of new shapes (the model run at another input size): the node with its shape-bearing
   * attributes updated, and its output shape. Ops without such attributes leave it out.
   */
  withInputShapes?(n: N, inputs: readonly (readonly number[])[], cx: ShapeContext): { node: N; shape: number[] };
  /** The node producing `shape` instead (graph surgery: a new number of classes). */
  withOutputShape?(n: N, shape: readonly number[]): N;
  /** Plain-loop CPU reference; `inputs` in the node's input order, batch-major NHWC. */
  reference(n: N, inputs: readonly Float32Array[], cx: ReferenceContext): Float32Array;
  cost(n: N, inputs: readonly (readonly number[])[], cx: ShapeContext): OpCost;
  /**
   * Lowers to integer kernels when the graph runs in precision 'int8' (LowerContext.integer); ops
   * without it make such a graph refuse to load in 'int8' ('auto' then runs it in float).
   */
  readonly integer?: boolean;
  /** Emits GPU kernel steps for the node, or fuses it into steps already emitted (lowering.ts). */
  lower(n: N, lc: LowerContext): void;
  onnx(n: N, b: OnnxBuilder): void;
  tflite?: TfliteMapping<N>;
  train?: TrainHooks<N>;
}
