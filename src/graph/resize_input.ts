/**
 * Runs a converted model at another input size (the MobileNet paper's resolution multiplier rho).
 * The weights stay: every op is a convolution or element-wise, so only shapes change. Every
 * activation shape is inferred again through the graph, the reshapes and concatenations that gather
 * the box predictions get the new anchor count, and the SSD anchors are regenerated for the new
 * feature maps with the generator recorded at conversion (ssd.anchorGenerator), the one the model
 * was trained with. A model that records none can only run at its own size.
 *
 * Anchor sizes: the generator sizes anchors relative to the image, which is right for a model
 * trained at the new size. A network trained at another size learned its box offsets against
 * anchors of a size in pixels, and sees an object of P pixels the same way at any input size, so by
 * default the anchors keep their trained pixel sizes (only the grid of centres follows the new
 * feature maps); relative sizes would shrink every box by new/trained size.
 */
import { InvalidOptionError, ModelFormatError } from '../errors.ts';
import { convGeometry } from '../core/geometry.ts';
import { gridAnchors } from '../ssd/anchors.ts';
import type { AnchorGeneratorSpec, GraphNode, ModelJson } from './ir.ts';
import { MAX_INPUT_SIDE, weightsInfo } from './model_format.ts';
import type { LoadedModel } from './weights.ts';

/** 'pixels': anchors keep their size in pixels at the trained input size; 'relative': the generator's sizes for this input. */
export type AnchorSizing = 'pixels' | 'relative';

/** A predictor feature map: its grid and the anchors each cell predicts. */
export interface AnchorLayer {
  height: number;
  width: number;
  perCell: number;
}

/**
 * The model at `height` x `width`. At the model's own size it is returned unchanged, so the stored
 * anchors (which may be quantized) stay the ones in use there. The regenerated anchors replace the
 * anchors constant (appended to the weights; the old values stay unreferenced).
 */
export async function resizeModelInput(model: LoadedModel, height: number, width: number, sizing: AnchorSizing = 'pixels'): Promise<LoadedModel> {
  const json = model.json;
  for (const [what, v] of [['height', height], ['width', width]] as const) {
    if (!(Number.isSafeInteger(v) && v >= 1 && v <= MAX_INPUT_SIDE)) throw new InvalidOptionError(`input ${what}`, v, `a whole number of pixels from 1 to ${MAX_INPUT_SIDE}`);
  }
  if (height === json.preprocess.height && width === json.preprocess.width) return model;
  const generator = json.ssd.anchorGenerator;
  if (!generator) {
    throw new InvalidOptionError(
      'inputSize',
      [height, width],
      `${json.preprocess.height}x${json.preprocess.width}, the size of ${json.name}: it records no anchor generator to make anchors for other sizes (convert it again with this mobilessd; models whose anchors no known generator reproduces cannot be resized)`,
    );
  }
  const { shapes, nodes } = inferShapes(json, height, width);
  const anchors = regenerateAnchors(generator, anchorLayers(json, shapes), height, width, sizing, json.name);
  const count = shapes[json.outputs.boxes]![1]!;
  if (anchors.length !== count * 4) throw new ModelFormatError(json.name, `the generator makes ${anchors.length / 4} anchors at ${height}x${width} but the graph predicts ${count} boxes`);
  const weights = new Float32Array(model.weights.length + anchors.length);
  weights.set(model.weights);
  weights.set(anchors, model.weights.length);
  const constants = { ...json.constants, [json.ssd.anchors]: { shape: [count, 4], offset: model.weights.byteLength, length: anchors.length } };
  return {
    json: { ...json, preprocess: { ...json.preprocess, height, width }, shapes, nodes, constants, weights: await weightsInfo(weights, json.weights.file) },
    weights,
  };
}

/**
 * Every tensor's shape with the input at `height` x `width`, and the nodes with their reshape
 * targets updated. A reshape keeps its batch and trailing dimensions and lets dimension 1 absorb the
 * change: the SSD predictor flattening [1, H, W, A*k] -> [1, H*W*A, k] (trailing dims within a cell).
 */
export function inferShapes(json: ModelJson, height: number, width: number): { shapes: Record<string, number[]>; nodes: GraphNode[] } {
  const shapes: Record<string, number[]> = { [json.input]: [1, height, width, json.shapes[json.input]![3]!] };
  const shapeOf = (t: string): number[] => {
    const s = shapes[t];
    if (!s) throw new ModelFormatError(json.name, `tensor ${t} is used before it is computed`);
    return s;
  };
  const nodes = json.nodes.map((n): GraphNode => {
    const out = outputShape(json, n, n.inputs.map(shapeOf), height, width);
    shapes[n.outputs[0]!] = out;
    return n.op === 'reshape' ? { ...n, shape: out } : n;
  });
  return { shapes, nodes };
}

function outputShape(json: ModelJson, n: GraphNode, inputs: number[][], height: number, width: number): number[] {
  const x = inputs[0]!;
  const fail = (problem: string): never => {
    throw new InvalidOptionError('inputSize', [height, width], `a size node ${n.name} of ${json.name} accepts (${problem})`);
  };
  switch (n.op) {
    case 'conv2d':
    case 'depthwise_conv2d': {
      const f = json.constants[n.filter]!.shape;
      const outC = n.op === 'depthwise_conv2d' ? x[3]! : f[3]!;
      try {
        const g = convGeometry({ batch: 1, inH: x[1]!, inW: x[2]!, inC: x[3]!, outC, kH: f[0]!, kW: f[1]!, strideH: n.strides[0], strideW: n.strides[1], padding: n.padding });
        return [1, g.outH, g.outW, outC];
      } catch (e) {
        return fail((e as Error).message);
      }
    }
    case 'add':
      if (!sameShape(x, inputs[1]!)) fail(`its inputs become [${x}] and [${inputs[1]}]`);
      return x;
    case 'logistic':
      return x;
    case 'reshape': {
      const total = product(x);
      if (total === product(n.shape)) return n.shape;
      const trailing = n.shape.slice(2);
      const cell = product(trailing);
      if (n.shape.length < 2 || x[x.length - 1]! % cell !== 0) fail(`its target [${n.shape}] does not split per cell`);
      return [n.shape[0]!, total / (n.shape[0]! * cell), ...trailing];
    }
    case 'concat': {
      const axis = n.axis < 0 ? n.axis + x.length : n.axis;
      const out = [...x];
      out[axis] = 0;
      for (const s of inputs) {
        if (s.length !== x.length || s.some((d, i) => i !== axis && d !== x[i])) fail(`its inputs become [${inputs.join('], [')}]`);
        out[axis]! += s[axis]!;
      }
      return out;
    }
  }
}

/**
 * The feature maps behind the box encodings, in anchor order: the encodings are a concatenation of
 * per-map reshapes of [1, H, W, anchors * 4] predictor convolutions.
 */
export function anchorLayers(json: ModelJson, shapes: Record<string, number[]>): AnchorLayer[] {
  const producer = new Map(json.nodes.map((n) => [n.outputs[0]!, n]));
  const layers: AnchorLayer[] = [];
  const visit = (t: string): void => {
    const n = producer.get(t);
    if (n?.op === 'concat') return n.inputs.forEach(visit);
    if (n?.op === 'reshape') return visit(n.inputs[0]!);
    const s = shapes[t]!;
    if (s.length !== 4 || s[3]! % 4 !== 0) throw new ModelFormatError(json.name, `box predictor ${t} has shape [${s}], expected [1, H, W, anchors * 4]`);
    layers.push({ height: s[1]!, width: s[2]!, perCell: s[3]! / 4 });
  };
  visit(json.outputs.boxes);
  return layers;
}

/**
 * The recorded generator's anchors for these feature maps, checked against the predictors' count.
 * With 'pixels' sizing, heights and widths are scaled by trained / new size (the generator's
 * options record the size the model was converted at).
 */
export function regenerateAnchors(spec: AnchorGeneratorSpec, layers: readonly AnchorLayer[], height: number, width: number, sizing: AnchorSizing = 'pixels', model = 'model'): Float32Array {
  const o = spec?.options;
  if (spec?.kind !== 'grid' || !o || !Array.isArray(o.strides) || !Array.isArray(o.aspectRatios) || !(o.inputHeight > 0 && o.inputWidth > 0)) {
    throw new ModelFormatError(model, `ssd.anchorGenerator ${JSON.stringify(spec)} is not a known generator`);
  }
  if (o.numLayers !== layers.length) throw new ModelFormatError(model, `the anchor generator has ${o.numLayers} layers but the graph has ${layers.length} box predictors`);
  const anchors = gridAnchors({ ...o, inputHeight: height, inputWidth: width, featureMapSizes: layers.map((l) => [l.height, l.width]) });
  const expected = layers.reduce((n, l) => n + l.height * l.width * l.perCell, 0);
  if (anchors.length !== expected * 4) throw new ModelFormatError(model, `the anchor generator makes ${anchors.length / 4} anchors where the box predictors need ${expected}`);
  if (sizing === 'pixels') {
    const [sh, sw] = [o.inputHeight / height, o.inputWidth / width];
    for (let i = 0; i < anchors.length; i += 4) {
      anchors[i + 2]! *= sh;
      anchors[i + 3]! *= sw;
    }
  }
  return anchors;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
