/**
 * The op registry: every module in src/ops/ exports `op`, an OpDef, and this is the only place that
 * collects them. The list itself is made at build time (scripts/esbuild_ops.mjs imports every
 * src/ops/*.ts), so adding an op means adding its module; nothing here or elsewhere names it.
 */
import modules from 'mobilessd:ops';
import { UnsupportedOperatorError } from '../../errors.ts';
import type { TfliteMapping } from './interchange.ts';
import type { GraphNode } from './node.ts';
import type { OpDef } from './op_def.ts';

const byName = new Map<string, OpDef>();
for (const def of modules) {
  if (byName.has(def.op)) throw new Error(`op registry: two modules define op ${def.op}`);
  byName.set(def.op, def);
}

const byTflite = new Map<string, { def: OpDef; mapping: TfliteMapping<GraphNode> }>();
for (const def of modules) {
  for (const builtin of def.tflite?.builtins ?? []) byTflite.set(builtin, { def, mapping: def.tflite! });
}

/** Every op, by IR name. */
export const OPS: ReadonlyMap<string, OpDef> = byName;

export function findOp(name: string): OpDef | undefined {
  return byName.get(name);
}

/** The definition of a node's op; a node of an unknown op cannot exist past model parsing. */
export function opOf(n: GraphNode, model = 'model'): OpDef {
  const def = byName.get(n.op);
  if (!def) throw new UnsupportedOperatorError(model, String(n.op), `node ${n.name}`);
  return def;
}

/** The op converting a TFLite builtin, by its schema.fbs name. */
export function tfliteOp(builtin: string): { def: OpDef; mapping: TfliteMapping<GraphNode> } | undefined {
  return byTflite.get(builtin);
}

/** The TFLite builtins mobilessd converts, for error messages. */
export function tfliteBuiltins(): string[] {
  return [...byTflite.keys()].sort();
}
