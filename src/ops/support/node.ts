/**
 * Graph nodes as the model format stores them: a name, inputs, one output and the attributes of an op.
 * The node types come from the op modules; this file only holds what they all share.
 */
export interface NodeBase {
  name: string;
  inputs: string[];
  outputs: string[];
}

/**
 * IR op name -> node type. Empty here: each op module adds its own entry by declaration merging
 * (`declare module './support/node.ts' { interface OpNodes { ... } }`), so GraphNode is the union
 * of every op's node type without a list anyone has to keep.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
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
