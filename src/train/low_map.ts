/**
 * `mobilessd train --low-map`: one more predictor pair on the stride-8 feature map (38x38 at 300x300),
 * below the base model's first predictor map (stride 16), with its own small default boxes. A
 * platelet (about 0.06 x 0.08 of the image) is near several stride-8 cells, where at stride 16 it is
 * often too far from every cell centre to reach IoU 0.5 whatever the box shape.
 *
 * The map is a trainable copy of the backbone's last stride-8 convolution (MobileNetV2: block 6's
 * expansion, 32 -> 192 channels), reading the same frozen input, so the backbone is unchanged and
 * the cached tensor is that input (38x38x32). Where the backbone follows that convolution with a
 * depthwise one (block 6's 3x3, stride 2), a trainable copy of it at stride 1 comes next: a 1x1
 * expansion alone gives each cell's predictor no view of its neighbours, which a box edge needs.
 * Its box and class predictors are 1x1 convolutions like the base model's; their reshapes go first
 * into both concatenations, and the anchors, table and recorded generator, get the new map's boxes
 * first: the model folder loads and runs like any other.
 */
import { InvalidOptionError } from '../errors.ts';
import type { ModelJson } from '../graph/ir.ts';
import { inferShapes } from '../graph/shapes.ts';
import { constData, type LoadedModel } from '../graph/weights.ts';
import { isConv2d, type Conv2dNode } from '../ops/conv2d.ts';
import { isDepthwiseConv2d, type DepthwiseConv2dNode } from '../ops/depthwise_conv2d.ts';
import type { GraphNode } from '../ops/support/node.ts';
import { anchorLayers } from '../ssd/resize_input.ts';
import { cellShapes, type Shape } from './anchor_fit.ts';
import { findPredictors, LOW_MAP_PREFIX } from './graph.ts';
import { withConstants } from './model_surgery.ts';
import { Rng } from './rng.ts';

/**
 * Default boxes per stride-8 cell (h, w relative to the input): squares of 0.04 and 0.06 and 0.06 at
 * aspect ratios 2 and 1/2, half the base model's smallest box (0.1), as SSD halves scales per stride.
 */
export const LOW_MAP_SHAPES: readonly Shape[] = [
  { h: 0.04, w: 0.04 },
  { h: 0.06, w: 0.06 },
  { h: 0.06 / Math.SQRT2, w: 0.06 * Math.SQRT2 },
  { h: 0.06 * Math.SQRT2, w: 0.06 / Math.SQRT2 },
];

/** Each tensor's stride (input pixels per cell), followed from the input through the nodes' strides. */
function strides(json: ModelJson): Map<string, number> {
  const s = new Map<string, number>([[json.input, 1]]);
  for (const n of json.nodes) {
    const own = (n as { strides?: unknown }).strides;
    const step = Array.isArray(own) ? Math.max(1, ...own.map(Number)) : 1;
    const from = Math.max(1, ...n.inputs.map((t) => s.get(t) ?? 1));
    for (const t of n.outputs) s.set(t, from * step);
  }
  return s;
}

/** The last standard convolution whose output has half the stride of the first predictor's map. */
export function lowMapSource(json: ModelJson): Conv2dNode {
  const p = findPredictors(json);
  const s = strides(json);
  const first = s.get(p.boxes[0]!.inputs[0]!) ?? 1;
  const predictors = new Set<GraphNode>([...p.boxes, ...p.classes]);
  const source = json.nodes.filter(
    (n): n is Conv2dNode => isConv2d(n) && !predictors.has(n) && s.get(n.outputs[0]!) === first / 2,
  );
  if (!source.length)
    throw new InvalidOptionError(
      'low-map',
      json.name,
      `a model with a convolution at stride ${first / 2}, half that of its first predictor's feature map`,
    );
  return source.at(-1)!;
}

/**
 * `model` with the low-map predictors (see the file comment). Filters are uniform in +-initScale, biases 0;
 * the class predictor keeps the model's class columns (newClassHeads then replaces it with the others).
 */
export function addLowMap(
  model: LoadedModel,
  shapes: readonly Shape[] = LOW_MAP_SHAPES,
  seed = 1,
  initScale = 0.01,
): LoadedModel {
  const json = structuredClone(model.json);
  if (json.nodes.some((n) => n.name.startsWith(LOW_MAP_PREFIX)))
    throw new InvalidOptionError('low-map', json.name, 'a model without a low map already');
  const src = lowMapSource(json);
  const p = findPredictors(json);
  const k = shapes.length;
  const C = json.shapes[json.outputs.scores]!.at(-1)!;
  const [, H, W, F] = json.shapes[src.outputs[0]!] as [number, number, number, number];
  const rng = new Rng(seed);
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  const feature = `${LOW_MAP_PREFIX}features`;
  const copy = (name: string, from: string) =>
    values.set(name, { shape: [...json.constants[from]!.shape], data: Float32Array.from(constData(model, from).data) });
  copy(`${feature}/filter`, src.filter);
  copy(`${feature}/bias`, src.bias);
  const features: Conv2dNode = {
    ...structuredClone(src),
    name: feature,
    outputs: [feature],
    filter: `${feature}/filter`,
    bias: `${feature}/bias`,
  };
  json.shapes[feature] = [1, H, W, F];
  const added: GraphNode[] = [features];
  const context = `${LOW_MAP_PREFIX}context`;
  const block = json.nodes.find(
    (n): n is DepthwiseConv2dNode => isDepthwiseConv2d(n) && n.inputs[0] === src.outputs[0],
  );
  if (block) {
    copy(`${context}/filter`, block.filter);
    copy(`${context}/bias`, block.bias);
    added.push({
      ...structuredClone(block),
      name: context,
      inputs: [feature],
      outputs: [context],
      filter: `${context}/filter`,
      bias: `${context}/bias`,
      strides: [1, 1],
      padding: 'SAME',
    });
    json.shapes[context] = [1, H, W, F];
  }
  const head = block ? context : feature;
  /** A 1x1 predictor like `like` on the low map, with `cols` columns per box, and its reshape. */
  const predictor = (kind: string, like: Conv2dNode, cols: number): string => {
    const name = `${LOW_MAP_PREFIX}${kind}`;
    values.set(`${name}/filter`, {
      shape: [1, 1, F, k * cols],
      data: new Float32Array(F * k * cols).map(() => rng.uniform(-initScale, initScale)),
    });
    values.set(`${name}/bias`, { shape: [k * cols], data: new Float32Array(k * cols) });
    added.push({
      ...structuredClone(like),
      name,
      inputs: [head],
      outputs: [name],
      filter: `${name}/filter`,
      bias: `${name}/bias`,
      strides: [1, 1],
      padding: 'SAME',
    });
    json.shapes[name] = [1, H, W, k * cols];
    const reshape = json.nodes.find((n) => n.inputs[0] === like.outputs[0])!;
    const out = `${name}/Reshape`;
    const rest = json.shapes[reshape.outputs[0]!]!.slice(2);
    const shape = [1, H * W * k, ...rest];
    added.push({ ...structuredClone(reshape), name: out, inputs: [name], outputs: [out], shape } as GraphNode);
    json.shapes[out] = shape;
    // The concatenation that gathers `like`'s reshape gathers this one first.
    const concat = json.nodes.find((n) => n.inputs.includes(reshape.outputs[0]!))!;
    concat.inputs = [out, ...concat.inputs];
    return out;
  };
  predictor('BoxEncodingPredictor', p.boxes[0]!, 4);
  predictor('ClassPredictor', p.classes[0]!, C);
  // Before the first concatenation, after everything the low map reads: graph order stays topological.
  const at = Math.min(...json.nodes.flatMap((n, i) => (n.inputs.some((t) => t.startsWith(LOW_MAP_PREFIX)) ? [i] : [])));
  json.nodes.splice(at, 0, ...added);

  // Anchors: the low map's cells first, in the predictors' order (y, x, box).
  const old = constData(model, json.ssd.anchors).data;
  const low = new Float32Array(4 * H * W * k);
  for (let y = 0, r = 0; y < H; y++)
    for (let x = 0; x < W; x++) for (const b of shapes) low.set([(y + 0.5) / H, (x + 0.5) / W, b.h, b.w], 4 * r++);
  const anchors = new Float32Array(low.length + old.length);
  anchors.set(low);
  anchors.set(old, low.length);
  values.set(json.ssd.anchors, { shape: [anchors.length / 4, 4], data: anchors });
  const g = json.ssd.anchorGenerator;
  if (g?.kind === 'grid') {
    const before = cellShapes(old, anchorLayers(model.json, model.json.shapes));
    const { featureMapSizes: _, ...options } = g.options;
    json.ssd.anchorGenerator = {
      kind: 'grid',
      options: {
        ...options,
        numLayers: options.numLayers + 1,
        strides: [options.strides[0]! / 2, ...options.strides],
        inputHeight: json.preprocess.height,
        inputWidth: json.preprocess.width,
        cellShapes: [shapes, ...before].map((l) => ({ h: l.map((b) => b.h), w: l.map((b) => b.w) })),
      },
    };
  } else json.ssd.anchorGenerator = undefined;
  const out = withConstants(model, values, json);
  // The concatenations and the reshapes after them now gather the low map's boxes too.
  const { shapes: inferred, nodes } = inferShapes(out.json, json.preprocess.height, json.preprocess.width);
  out.json.shapes = { ...out.json.shapes, ...inferred };
  out.json.nodes = nodes;
  return out;
}

/** Whether `model` has a low map (its nodes are trained with the predictors). */
export function hasLowMap(json: ModelJson): boolean {
  return json.nodes.some((n) => n.name.startsWith(LOW_MAP_PREFIX));
}
