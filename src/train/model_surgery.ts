/**
 * Turns a pretrained detector into the starting point for new classes: every class predictor gets
 * a fresh filter for (background + the new classes) per default box, the box predictors and the
 * rest keep their pretrained weights. Scores become a softmax over those columns (the SSD loss),
 * background in column 0. Also writes trained values back into a model.
 */
import type { ModelJson } from '../graph/ir.ts';
import { constData, type LoadedModel } from '../graph/weights.ts';
import { isConvolution } from '../ops/support/conv.ts';
import { opOf } from '../ops/support/registry.ts';
import { findPredictors } from './graph.ts';
import { Rng } from './rng.ts';

export const BACKGROUND_LABEL = 'background';

export interface HeadInit {
  /** Filter values are uniform in +-scale (0.05: std 0.029, TF's detection heads use 0.03). */
  scale: number;
  /** Initial probability of the background column, set through its bias (0.99). */
  backgroundPrior: number;
  seed: number;
}

export const DEFAULT_HEAD_INIT: HeadInit = { scale: 0.05, backgroundPrior: 0.99, seed: 1 };

/** A copy of `model` with its constants replaced by `values` where given, repacked into a new weights array. */
export function withConstants(
  model: LoadedModel,
  values: ReadonlyMap<string, { shape: number[]; data: Float32Array }>,
  json: ModelJson = structuredClone(model.json),
): LoadedModel {
  const names = Object.keys(json.constants);
  for (const k of values.keys()) if (!names.includes(k)) names.push(k);
  const data = names.map((n) => values.get(n) ?? { shape: json.constants[n]!.shape, data: constData(model, n).data });
  const weights = new Float32Array(data.reduce((s, d) => s + d.data.length, 0));
  let at = 0;
  names.forEach((n, i) => {
    const d = data[i]!;
    if (d.data.length !== d.shape.reduce((a, b) => a * b, 1))
      throw new RangeError(`constant ${n}: ${d.data.length} values for shape [${d.shape}]`);
    weights.set(d.data, at);
    json.constants[n] = { shape: d.shape, offset: 4 * at, length: d.data.length };
    at += d.data.length;
  });
  json.weights = { ...json.weights, byteLength: weights.byteLength };
  return { json, weights };
}

/** Replaces the class predictors for `classes` (+ background); see the file comment. */
export function newClassHeads(
  model: LoadedModel,
  classes: readonly string[],
  init: HeadInit = DEFAULT_HEAD_INIT,
): LoadedModel {
  const json = structuredClone(model.json);
  const oldC = json.shapes[json.outputs.scores]!.at(-1)!;
  const C = classes.length + 1;
  const rng = new Rng(init.seed);
  const bgBias = Math.log((init.backgroundPrior * (C - 1)) / (1 - init.backgroundPrior));
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  const predictors = findPredictors(json).classes;
  for (const p of predictors) {
    const [kh, kw, cin, cout] = json.constants[p.filter]!.shape as [number, number, number, number];
    if (cout % oldC !== 0)
      throw new Error(`class predictor ${p.name} has ${cout} outputs, not a multiple of ${oldC} classes`);
    const anchors = cout / oldC;
    const filter = new Float32Array(kh * kw * cin * anchors * C).map(() => rng.uniform(-init.scale, init.scale));
    const bias = new Float32Array(anchors * C).map((_, i) => (i % C === 0 ? bgBias : 0));
    values.set(p.filter, { shape: [kh, kw, cin, anchors * C], data: filter });
    values.set(p.bias, { shape: [anchors * C], data: bias });
    const out = json.shapes[p.outputs[0]!]!;
    json.shapes[p.outputs[0]!] = [...out.slice(0, -1), anchors * C];
  }
  // Everything between the predictors and the scores output (reshapes, the concatenation) has one
  // column per class.
  const touched = new Set(predictors.map((p) => p.outputs[0]!));
  json.nodes = json.nodes.map((n) => {
    if (!n.inputs.some((t) => touched.has(t))) return n;
    const def = opOf(n, json.name);
    if (!def.rearranges)
      throw new Error(`class predictor output feeds ${n.op} ${n.name}; only reshapes and a concatenation are expected`);
    const out = n.outputs[0]!;
    const s = json.shapes[out]!;
    if (s.at(-1) !== oldC) throw new Error(`${out} has shape [${s}], expected ${oldC} class columns last`);
    json.shapes[out] = [...s.slice(0, -1), C];
    touched.add(out);
    return def.withOutputShape ? def.withOutputShape(n, json.shapes[out]) : n;
  });
  json.labels = [BACKGROUND_LABEL, ...classes];
  json.ssd = {
    ...json.ssd,
    scoreFunction: 'softmax',
    backgroundClass: 0,
    defaults: { ...json.ssd.defaults, perClassNms: true },
  };
  return withConstants(model, values, json);
}

export const BRANCH_SUFFIX = '/branch';

/**
 * Gives the first `count` predictor pairs their own copy of the convolution that makes their
 * feature map, when the backbone also uses that map (OID: the block 13 expansion and Conv_1).
 * The copy starts equal to the original, so the model computes the same function; trained, it
 * adapts the features of those predictors while the backbone stays frozen and cacheable. Returns
 * the new nodes' names.
 */
export function branchFeatureLayers(model: LoadedModel, count: number): { model: LoadedModel; branches: string[] } {
  const json = structuredClone(model.json);
  const p = findPredictors(json);
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  const branches: string[] = [];
  for (let i = 0; i < Math.min(count, p.boxes.length); i++) {
    const box = json.nodes.find((n) => n.name === p.boxes[i]!.name)!;
    const cls = json.nodes.find((n) => n.name === p.classes[i]!.name)!;
    const feature = box.inputs[0]!;
    if (cls.inputs[0] !== feature) continue;
    const at = json.nodes.findIndex((n) => n.outputs.includes(feature));
    const src = json.nodes[at];
    const shared = json.nodes.some((n) => n !== box && n !== cls && n.inputs.includes(feature));
    if (!src || !isConvolution(src) || !shared) continue;
    const name = `${src.name}${BRANCH_SUFFIX}`;
    const out = `${feature}${BRANCH_SUFFIX}`;
    const copy = {
      ...structuredClone(src),
      name,
      outputs: [out],
      filter: `${src.filter}${BRANCH_SUFFIX}`,
      bias: `${src.bias}${BRANCH_SUFFIX}`,
    };
    for (const [from, to] of [
      [src.filter, copy.filter],
      [src.bias, copy.bias],
    ] as const)
      values.set(to, { shape: [...json.constants[from]!.shape], data: Float32Array.from(constData(model, from).data) });
    json.shapes[out] = [...json.shapes[feature]!];
    json.nodes.splice(at + 1, 0, copy);
    box.inputs[0] = out;
    cls.inputs[0] = out;
    branches.push(name);
  }
  return { model: withConstants(model, values, json), branches };
}
