/**
 * Runs a converted model at another input size (the MobileNet paper's resolution multiplier rho).
 * The weights stay: only shapes change. Every activation shape is inferred again through the graph
 * (graph/shapes.ts), the reshapes and concatenations that gather the box predictions get the new
 * anchor count, and the SSD anchors are regenerated for the new feature maps with the generator
 * recorded at conversion (ssd.anchorGenerator), the one the model was trained with. A model that records none can only run at its own size.
 *
 * Anchor sizes: the generator sizes anchors relative to the image, which is right for a model
 * trained at the new size. A network trained at another size learned its box offsets against
 * anchors of a size in pixels, and sees an object of P pixels the same way at any input size, so by
 * default the anchors keep their trained pixel sizes (only the grid of centres follows the new
 * feature maps); relative sizes would shrink every box by new/trained size.
 */
import { InvalidOptionError, ModelFormatError } from '../errors.ts';
import type { AnchorGeneratorSpec, ModelJson } from '../graph/ir.ts';
import { MAX_INPUT_SIDE, weightsInfo } from '../graph/model_format.ts';
import { inferShapes } from '../graph/shapes.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { opOf } from '../ops/support/registry.ts';
import { gridAnchors } from './anchors.ts';

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
export async function resizeModelInput(
  model: LoadedModel,
  height: number,
  width: number,
  sizing: AnchorSizing = 'pixels',
): Promise<LoadedModel> {
  const json = model.json;
  for (const [what, v] of [
    ['height', height],
    ['width', width],
  ] as const) {
    if (!(Number.isSafeInteger(v) && v >= 1 && v <= MAX_INPUT_SIDE))
      throw new InvalidOptionError(`input ${what}`, v, `a whole number of pixels from 1 to ${MAX_INPUT_SIDE}`);
  }
  if (height === json.preprocess.height && width === json.preprocess.width) return model;
  const min = minimumInputSide(json);
  if (height < min || width < min)
    throw new InvalidOptionError(
      'inputSize',
      [height, width],
      `at least ${min} pixels per side for ${json.name}: its finest feature map has stride ${min}, so a smaller input makes every feature map a single cell computed mostly from padding`,
    );
  if (json.ssd.decoding)
    throw new InvalidOptionError(
      'inputSize',
      [height, width],
      `${json.preprocess.height}x${json.preprocess.width}, the size of ${json.name}: its boxes and keypoints are decoded with MediaPipe's options for that size (ssd.decoding), which are not rescaled`,
    );
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
  if (anchors.length !== count * 4)
    throw new ModelFormatError(
      json.name,
      `the generator makes ${anchors.length / 4} anchors at ${height}x${width} but the graph predicts ${count} boxes`,
    );
  const weights = new Float32Array(model.weights.length + anchors.length);
  weights.set(model.weights);
  weights.set(anchors, model.weights.length);
  const constants = {
    ...json.constants,
    [json.ssd.anchors]: { shape: [count, 4], offset: model.weights.byteLength, length: anchors.length },
  };
  return {
    json: {
      ...json,
      preprocess: { ...json.preprocess, height, width },
      shapes,
      nodes,
      constants,
      weights: await weightsInfo(weights, json.weights.file),
    },
    weights,
  };
}

/**
 * The feature maps behind the box encodings, in anchor order: the encodings are a concatenation of
 * per-map reshapes of [1, H, W, anchors * 4] predictor convolutions.
 */
/**
 * The stride (input pixels per cell) of the finest feature map the box predictor reads: each tensor's stride
 * is the largest of its inputs' times the node's own `strides`, followed from the input to the predictors.
 */
export function minimumInputSide(json: ModelJson): number {
  const stride = new Map<string, number>([[json.input, 1]]);
  for (const n of json.nodes) {
    const own = (n as { strides?: unknown }).strides;
    const step = Array.isArray(own) ? Math.max(1, ...own.map(Number).filter(Number.isFinite)) : 1;
    const from = Math.max(1, ...n.inputs.map((t) => stride.get(t) ?? 1));
    for (const t of n.outputs) stride.set(t, from * step);
  }
  const producer = new Map(json.nodes.map((n) => [n.outputs[0]!, n]));
  const strides: number[] = [];
  const visit = (t: string): void => {
    const n = producer.get(t);
    if (n && opOf(n, json.name).rearranges) return n.inputs.forEach(visit);
    strides.push(stride.get(t) ?? 1);
  };
  visit(json.outputs.boxes);
  return Math.min(...strides);
}

export function anchorLayers(json: ModelJson, shapes: Record<string, number[]>): AnchorLayer[] {
  const producer = new Map(json.nodes.map((n) => [n.outputs[0]!, n]));
  const layers: AnchorLayer[] = [];
  const visit = (t: string): void => {
    const n = producer.get(t);
    if (n && opOf(n, json.name).rearranges) return n.inputs.forEach(visit);
    const s = shapes[t]!;
    if (s.length !== 4 || s[3]! % 4 !== 0)
      throw new ModelFormatError(json.name, `box predictor ${t} has shape [${s}], expected [1, H, W, anchors * 4]`);
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
export function regenerateAnchors(
  spec: AnchorGeneratorSpec,
  layers: readonly AnchorLayer[],
  height: number,
  width: number,
  sizing: AnchorSizing = 'pixels',
  model = 'model',
): Float32Array {
  const o = spec?.options;
  if (
    spec?.kind !== 'grid' ||
    !o ||
    !Array.isArray(o.strides) ||
    !Array.isArray(o.aspectRatios) ||
    !(o.inputHeight > 0 && o.inputWidth > 0)
  ) {
    throw new ModelFormatError(model, `ssd.anchorGenerator ${JSON.stringify(spec)} is not a known generator`);
  }
  if (o.numLayers !== layers.length)
    throw new ModelFormatError(
      model,
      `the anchor generator has ${o.numLayers} layers but the graph has ${layers.length} box predictors`,
    );
  const anchors = gridAnchors({
    ...o,
    inputHeight: height,
    inputWidth: width,
    featureMapSizes: layers.map((l) => [l.height, l.width]),
  });
  const expected = layers.reduce((n, l) => n + l.height * l.width * l.perCell, 0);
  if (anchors.length !== expected * 4)
    throw new ModelFormatError(
      model,
      `the anchor generator makes ${anchors.length / 4} anchors where the box predictors need ${expected}`,
    );
  if (sizing === 'pixels') {
    const [sh, sw] = [o.inputHeight / height, o.inputWidth / width];
    for (let i = 0; i < anchors.length; i += 4) {
      anchors[i + 2]! *= sh;
      anchors[i + 3]! *= sw;
    }
  }
  return anchors;
}
