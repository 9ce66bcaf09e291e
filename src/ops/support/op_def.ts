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

export interface NodeBase {
  name: string;
  inputs: string[];
  outputs: string[];
}

/**
 * IR op name -> node type. Empty here: each op module adds its own entry by declaration merging
 * (`declare module './support/op_def.ts' { interface OpNodes { ... } }`), so GraphNode is the union
 * of every op's node type without a list anyone has to keep.
 */
export interface OpNodes {}
export type OpName = keyof OpNodes;
export type GraphNode = OpNodes[OpName];

/** What shape inference may look at besides the input shapes: the shapes of the model's constants. */
export interface ShapeContext {
  constShape(name: string): readonly number[] | undefined;
}

/** Inputs an op cannot take: callers turn it into the error of their layer (model format, input size, converter). */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

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
  /** Emits GPU kernel steps for the node, or fuses it into steps already emitted (lowering.ts). */
  lower(n: N, lc: LowerContext): void;
  onnx(n: N, b: OnnxBuilder): void;
  tflite?: TfliteMapping<N>;
  train?: TrainHooks<N>;
}
