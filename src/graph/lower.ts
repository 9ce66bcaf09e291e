/**
 * Lowers a model graph to kernel steps, once, at load time. Each node's op lowers it (ops/*.ts): to
 * steps, or into steps already emitted (fusion: a residual add into its GEMM's epilogue, a reshape
 * as an alias of its input's storage, a concatenation as views its producers write through). This
 * file only keeps the books: which step writes which tensor, who reads what, and the storage roots
 * with their lifetimes for the memory planner.
 */
import type { OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { SubgroupSizes } from '../gpu/context.ts';
import type { DriverKind } from '../gpu/provider.ts';
import type { GemmPlan } from '../kernels/pointwise_tuning.ts';
import { storageBytes, type StorageType } from '../kernels/storage.ts';
import { UnsupportedOperatorError } from '../errors.ts';
import type { IntegerLowering, LowerContext, Step, VariantChoice } from '../ops/support/lowering.ts';
import type { GraphNode } from '../ops/support/node.ts';
import { opOf } from '../ops/support/registry.ts';
import { dequantizedName, dequantizeOutputSteps } from './integer.ts';
import type { ModelJson } from './ir.ts';

export interface StorageRoot {
  bytes: number;
  first: number;
  last: number;
}

export interface LoweredGraph {
  batch: number;
  steps: Step[];
  /** Storage root of every activation tensor (aliases and concat slices map to their root). */
  rootOf: Map<string, string>;
  roots: Map<string, StorageRoot>;
  input: string;
  outputs: { boxes: string; scores: string };
}

export interface LowerOptions {
  batch: number;
  force?: VariantChoice;
  /** Picks the measured kernel configurations for that adapter kind (kernels/pointwise_tuning.ts). */
  driver?: DriverKind;
  /** Autotuned GEMM configurations by shape, ahead of the table. */
  gemm?: GemmPlan;
  /** The device's subgroup sizes: the table's subgroup GEMM choices apply where they are correct for them. */
  subgroups?: SubgroupSizes;
  /** False for training, which keeps every node's output. Default true. */
  fuse?: boolean;
  /** Tensors read from outside `nodes` (graph outputs): never fused away. */
  keep?: readonly string[];
  /** Run in integers (precision 'int8'): every op must have an integer lowering. */
  integer?: IntegerLowering;
}

/** The steps of `nodes` (graph order) and where each tensor is stored. */
export function lowerNodes(
  json: ModelJson,
  nodes: readonly GraphNode[],
  o: LowerOptions,
): { steps: Step[]; root: (t: string) => string } {
  const shapeOf = (t: string): number[] => {
    const s = json.shapes[t];
    if (!s) throw new Error(`model ${json.name}: no shape recorded for tensor ${t}`);
    return [o.batch, ...s.slice(1)];
  };
  const consumers = new Map<string, GraphNode[]>();
  for (const n of nodes) {
    for (const t of n.inputs) {
      const list = consumers.get(t);
      if (list) list.push(n);
      else consumers.set(t, [n]);
    }
  }
  const keep = new Set(o.keep ?? []);
  const steps: Step[] = [];
  const writer = new Map<string, Step>();
  const aliasOf = new Map<string, string>();
  const rootOf = new Map<string, string>();
  const lc: LowerContext = {
    model: json.name,
    batch: o.batch,
    driver: o.driver ?? 'unknown',
    force: o.force ?? {},
    ...(o.gemm ? { gemm: o.gemm } : {}),
    ...(o.subgroups ? { subgroups: o.subgroups } : {}),
    fuse: o.fuse ?? true,
    ...(o.integer ? { integer: o.integer } : {}),
    shape: shapeOf,
    constShape(name) {
      const c = json.constants[name];
      if (!c) throw new Error(`model ${json.name}: constant ${name} is missing`);
      return c.shape;
    },
    emit(step) {
      steps.push(step);
      writer.set(step.output, step);
    },
    alias(t, of) {
      aliasOf.set(t, of);
      rootOf.set(t, of);
    },
    source(t) {
      const chain = [t];
      let cur = t;
      while (!writer.has(cur) && aliasOf.has(cur)) chain.push((cur = aliasOf.get(cur)!));
      const step = writer.get(cur);
      return step ? { step, chain } : undefined;
    },
    computedBefore(t, step) {
      const writer = lc.source(t)?.step;
      return !writer || steps.indexOf(writer) < steps.indexOf(step);
    },
    soleUse: (t, n) => !keep.has(t) && consumers.get(t)?.length === 1 && consumers.get(t)![0] === n,
    useCount: (t) => consumers.get(t)?.length ?? 0,
    drop(step) {
      steps.splice(steps.indexOf(step), 1);
      writer.delete(step.output);
    },
    redirect(step, output) {
      writer.delete(step.output);
      step.output = output;
      writer.set(output, step);
    },
    place: (t, root) => void rootOf.set(t, root),
    defaultView(t): OutputView {
      const s = shapeOf(t);
      return { base: 0, batchStride: product(s.slice(1)), pixelStride: s.at(-1)! };
    },
  };
  for (const n of nodes) {
    const def = opOf(n, json.name);
    if (o.integer && !def.integer)
      throw new UnsupportedOperatorError(
        json.name,
        n.op,
        `${n.name} has no integer kernel`,
        "load the model with precision: 'f32'",
      );
    def.lower(n, lc);
  }
  const root = (t: string): string => {
    let r = t;
    while (rootOf.has(r) && rootOf.get(r) !== r) r = rootOf.get(r)!;
    return r;
  };
  return { steps, root };
}

/**
 * `driver` picks the measured kernel configurations for that adapter kind; `integer` lowers to the
 * integer kernels, every activation an 8-bit tensor packed four to a u32 word; `storage` is a float graph's
 * element type (f16: 2 bytes an element).
 */
export function lowerGraph(
  model: ModelJson,
  batch: number,
  force: VariantChoice = {},
  driver: DriverKind = 'unknown',
  integer?: IntegerLowering,
  gemm?: GemmPlan,
  subgroups?: SubgroupSizes,
  storage: StorageType = 'f32',
): LoweredGraph {
  const outputs = [model.outputs.boxes, model.outputs.scores];
  const { steps, root } = lowerNodes(model, model.nodes, {
    batch,
    force,
    driver,
    keep: outputs,
    ...(integer ? { integer } : {}),
    ...(gemm ? { gemm } : {}),
    ...(subgroups ? { subgroups } : {}),
  });
  // Integer graphs end in float32 copies of their outputs, dequantized for the SSD head.
  const heads = integer ? dequantizeOutputSteps(model, integer, batch) : [];
  steps.push(...heads);
  const floats = new Set(heads.map((st) => st.output));
  const elements = (t: string) => product((model.shapes[t] ?? model.shapes[t.slice(0, -':f32'.length)]!).slice(1));
  const bytesOf = (t: string) => {
    const n = batch * elements(t);
    return integer && !floats.has(t) ? Math.ceil(n / 4) * 4 : storageBytes(storage) * n;
  };
  // Lifetimes: step 0 is preprocessing (writes the input), steps 1..n the kernels, n+1 the SSD head.
  const roots = new Map<string, StorageRoot>();
  const touch = (t: string, at: number) => {
    const r = root(t);
    const e = roots.get(r);
    if (!e) roots.set(r, { bytes: bytesOf(r), first: at, last: at });
    else {
      e.first = Math.min(e.first, at);
      e.last = Math.max(e.last, at);
    }
  };
  touch(model.input, 0);
  steps.forEach((st, i) => {
    touch(st.output, i + 1);
    for (const t of st.reads()) touch(t, i + 1);
  });
  const read = integer
    ? { boxes: dequantizedName(model.outputs.boxes), scores: dequantizedName(model.outputs.scores) }
    : model.outputs;
  // The raw outputs live to the end too, so an integer graph's uint8 outputs can be read back (tests).
  for (const t of new Set([...outputs, read.boxes, read.scores])) touch(t, steps.length + 1);
  const rootOf = new Map<string, string>();
  for (const t of Object.keys(model.shapes)) rootOf.set(t, root(t));
  for (const t of floats) rootOf.set(t, t);
  return { batch, steps, rootOf, roots, input: model.input, outputs: read };
}
