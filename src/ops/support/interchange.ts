/**
 * How ops meet other formats: ONNX export (graph/onnx_export.ts implements OnnxBuilder) and the TFLite
 * converter (convert/tflite_to_ir.ts implements TfliteContext and reads builtin options by the
 * schema an op declares, so a new op needs no change to the flatbuffer reader).
 */
import type { Clamp } from '../../core/geometry.ts';
import type { OnnxNode } from '../../onnx/proto.ts';
import type { GraphNode } from './node.ts';

/** The ONNX graph being written. Rank-4 activations are kept NCHW there (values named by `value`). */
export interface OnnxBuilder {
  /** Batch-1 NHWC shape of an activation, as the model records it. */
  shape(t: string): number[];
  /** The ONNX value holding activation `t`. */
  value(t: string): string;
  /** `t` in NHWC element order (a rank-4 value transposed back from NCHW, once however often asked). */
  nhwc(t: string): string;
  /** A constant of the model as float32 (weights in our layouts), and its shape. */
  data(name: string): Float32Array;
  constShape(name: string): number[];
  /** Adds an initializer once under `name`; later calls with the name reuse it. */
  constant(name: string, dims: number[], data: () => Float32Array | BigInt64Array): string;
  node(n: OnnxNode): void;
  /** Writes `op`'s result into `out`, through a Clip when `clamp` is not the identity. */
  withClamp(name: string, out: string, clamp: Clamp, op: (target: string) => void): void;
  /** ONNX's axis for NHWC axis `axis` of a tensor of rank `rank` (rank-4 tensors are NCHW there). */
  axis(axis: number, rank: number): number;
}

export type TfliteActivation = 'NONE' | 'RELU' | 'RELU_N1_TO_1' | 'RELU6' | 'TANH' | 'SIGN_BIT';

/** How one field of a builtin options table is read, and what it becomes. */
export interface OptionFieldTypes {
  i32: number;
  i8: number;
  bool: boolean;
  f32: number;
  i32s: number[] | undefined;
  padding: 'SAME' | 'VALID';
  activation: TfliteActivation;
}
export type OptionField = readonly [id: number, kind: keyof OptionFieldTypes, fallback?: number];

/**
 * A builtin options table of schema.fbs: its BuiltinOptions union index and its fields by id
 * (declaration order). Absent fields (and absent tables) read as the flatbuffer default, 0 or `fallback`.
 */
export interface OptionsSchema<F extends Record<string, OptionField> = Record<string, OptionField>> {
  table: string;
  type: number;
  fields: F;
}
export type OptionsOf<S extends OptionsSchema> = { [K in keyof S['fields']]: OptionFieldTypes[S['fields'][K][1]] };

/** An operator of the TFLite graph: tensor indices (-1 for an omitted optional input). */
export interface TfliteOp {
  readonly index: number;
  /** The builtin's schema.fbs name (MAX_POOL_2D), or the custom code. */
  readonly name: string;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

export interface TfliteContext {
  options<S extends OptionsSchema>(op: TfliteOp, schema: S): OptionsOf<S>;
  /** The IR name of input k, which an earlier operator (or the graph input) computes. */
  activation(op: TfliteOp, k: number): string;
  /** The IR name of the operator's single output. */
  output(op: TfliteOp): string;
  inputShape(op: TfliteOp, k: number): number[];
  outputShape(op: TfliteOp): number[];
  hasInput(op: TfliteOp, k: number): boolean;
  /** Constant input k as a float32 constant of `shape`, transformed to our layout once per layout name. */
  constant(
    op: TfliteOp,
    k: number,
    layout: string,
    shape: number[],
    transform?: (v: Float32Array) => Float32Array,
  ): string;
  /** A new constant of zeros named after `base`. */
  zeros(base: string, shape: number[]): string;
  /**
   * The values of constant input k read at conversion time (axes, paddings, sizes), not added to the model;
   * undefined when the input is computed at run time.
   */
  values(op: TfliteOp, k: number): Float32Array | undefined;
  /** The operator output's per-tensor quantization (8- or 16-bit integer outputs), if it has one. */
  outputQuantization(op: TfliteOp): TfliteQuantization | undefined;
  /** The fused activation as a clamp, narrowed to the range an 8-bit output tensor can hold. */
  clamp(op: TfliteOp, activation: TfliteActivation): Clamp;
  /** A malformed operator (TfliteFormatError). */
  fail(op: TfliteOp, problem: string): never;
  /** A well-formed operator mobilessd cannot run in this form (UnsupportedOperatorError). */
  unsupported(op: TfliteOp, what: string): never;
}

/** An integer tensor's grid: real = scale * (q - zeroPoint), q in [qmin, qmax]. */
export interface TfliteQuantization {
  scale: number;
  zeroPoint: number;
  qmin: number;
  qmax: number;
}

export interface TfliteMapping<N extends GraphNode> {
  /** BuiltinOperator names (schema.fbs) converted to this op. */
  builtins: readonly string[];
  /** Usually a node of this op; another op's node where that op computes the operator exactly. */
  convert(op: TfliteOp, cx: TfliteContext): N | GraphNode;
}
