/**
 * Which part of a model is trained. The SSD predictors (the convolutions whose outputs are
 * concatenated into the box and class outputs) always are; `trainFrom` adds every node from a
 * point of the graph on. The region is closed under consumers, so a trained node never feeds a
 * frozen one: what the frozen part computes (the cut tensors) does not change while training,
 * which is what lets it be computed once per augmented image and cached.
 */
import type { ModelJson } from '../graph/ir.ts';
import { isConv2d, type Conv2dNode } from '../ops/conv2d.ts';
import type { GraphNode } from '../ops/support/node.ts';
import { opOf } from '../ops/support/registry.ts';
import { paramsOf } from './params.ts';

/**
 * heads: the predictors only; extras: also the extra feature layers after the backbone (everything
 * after the input of the second predictor); features: every layer from the one that makes the first
 * predictor's input, so that every feature map a predictor reads adapts (small objects match the
 * first maps, which `extras` leaves frozen); all: the whole network; or a node name to start from.
 */
export type TrainFrom = 'heads' | 'extras' | 'features' | 'all' | (string & {});

export interface Predictors {
  /** In concatenation order: predictor i makes the default boxes of feature map i. */
  boxes: Conv2dNode[];
  classes: Conv2dNode[];
}

export interface Region {
  /** Nodes computed in training, in graph order. */
  nodes: GraphNode[];
  /** Tensors that feed the region from outside: frozen feature maps, or the model input. */
  cuts: string[];
  /** Nodes whose constants (a convolution's filter and bias) are trained. */
  trained: GraphNode[];
}

function producers(model: ModelJson): Map<string, GraphNode> {
  const m = new Map<string, GraphNode>();
  for (const n of model.nodes) for (const t of n.outputs) m.set(t, n);
  return m;
}

/** The predictor convolutions feeding output `tensor` through reshapes and one concatenation. */
function predictorsOf(model: ModelJson, tensor: string): Conv2dNode[] {
  const made = producers(model);
  const parts: string[] = [];
  // Through the reshapes and the concatenation that gather the predictions, to what computes them.
  const visit = (t: string): void => {
    const n = made.get(t);
    if (n && opOf(n, model.name).rearranges) n.inputs.forEach(visit);
    else parts.push(t);
  };
  visit(tensor);
  return parts.map((t) => {
    const n = made.get(t);
    if (!n || !isConv2d(n))
      throw new Error(
        `model ${model.name}: output ${tensor} is not made by convolutions (found ${n?.op ?? 'nothing'} behind ${t})`,
      );
    return n;
  });
}

export function findPredictors(model: ModelJson): Predictors {
  const boxes = predictorsOf(model, model.outputs.boxes);
  const classes = predictorsOf(model, model.outputs.scores);
  if (boxes.length !== classes.length)
    throw new Error(`model ${model.name}: ${boxes.length} box predictors but ${classes.length} class predictors`);
  return { boxes, classes };
}

/**
 * Nodes added by `--low-map` (low_map.ts) are named under this prefix. They are trained whatever
 * `trainFrom` says, and the named regions start from the base model's own predictors.
 */
export const LOW_MAP_PREFIX = 'LowMapPredictor/';

function startIndex(model: ModelJson, from: TrainFrom, all: Predictors): number {
  const index = (name: string) => model.nodes.findIndex((n) => n.name === name || n.outputs.includes(name));
  const base = (list: Conv2dNode[]) => list.filter((n) => !n.name.startsWith(LOW_MAP_PREFIX));
  const p = { boxes: base(all.boxes), classes: base(all.classes) };
  switch (from) {
    case 'heads':
      return model.nodes.length;
    case 'all':
      return 0;
    case 'extras': {
      const second = p.boxes[1] ?? p.boxes[0]!;
      return index(second.inputs[0]!) + 1;
    }
    case 'features':
      // A predictor on the model input itself (no producer): the whole network.
      return Math.max(0, index(p.boxes[0]!.inputs[0]!));
    default: {
      const i = index(from);
      if (i < 0) throw new RangeError(`--train-from: no node or tensor named "${from}" in ${model.name}`);
      return i;
    }
  }
}

/** `branches` names nodes trained in every case besides the predictors (model_surgery.ts branchFeatureLayers). */
export function trainingRegion(model: ModelJson, from: TrainFrom, branches: readonly string[] = []): Region {
  const p = findPredictors(model);
  const start = startIndex(model, from, p);
  const seeds = model.nodes.filter((n) => branches.includes(n.name) || n.name.startsWith(LOW_MAP_PREFIX));
  const inRegion = new Set<GraphNode>([...p.boxes, ...p.classes, ...seeds, ...model.nodes.slice(start)]);
  const made = new Set<string>();
  // Graph order is topological: one pass adds every consumer of a region tensor.
  for (const n of model.nodes) {
    if (inRegion.has(n) || n.inputs.some((t) => made.has(t))) {
      inRegion.add(n);
      for (const t of n.outputs) made.add(t);
    }
  }
  const nodes = model.nodes.filter((n) => inRegion.has(n));
  const cuts = [...new Set(nodes.flatMap((n) => n.inputs).filter((t) => !made.has(t)))];
  const trained = nodes.filter((n) => paramsOf(n).length > 0);
  return { nodes, cuts, trained };
}

/** The frozen nodes that compute `cuts` from the model input, in graph order. */
export function frozenNodes(model: ModelJson, cuts: readonly string[]): GraphNode[] {
  const made = producers(model);
  const need = new Set<GraphNode>();
  const stack = [...cuts];
  while (stack.length) {
    const n = made.get(stack.pop()!);
    if (!n || need.has(n)) continue;
    need.add(n);
    stack.push(...n.inputs);
  }
  return model.nodes.filter((n) => need.has(n));
}
