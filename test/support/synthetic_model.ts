/**
 * A small SSD-shaped model with random weights, built in code: a stride-2 stem, an inverted
 * residual block (with skip), a stride-2 block, an extra layer, and box/class predictors on two
 * feature maps, reshaped and concatenated like the real models. Odd sizes and SAME padding on
 * purpose. Lets the executor be tested against the CPU reference without any model file.
 */
import { ACTIVATIONS } from '../../src/core/geometry.ts';
import type { Clamp } from '../../src/core/geometry.ts';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelJson } from '../../src/graph/ir.ts';
import type { GraphNode } from '../../src/ops/support/node.ts';
import type { LoadedModel } from '../../src/graph/weights.ts';
import { randomFloats } from './gpu.ts';

export function syntheticModel(
  opts: { height?: number; width?: number; classes?: number; quantClamp?: boolean } = {},
): LoadedModel {
  const H = opts.height ?? 33,
    W = opts.width ?? 29,
    C = opts.classes ?? 5;
  const constants: ModelJson['constants'] = {};
  const chunks: Float32Array[] = [];
  let floats = 0;
  let seed = 100;
  const constant = (name: string, shape: number[], scale: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    chunks.push(randomFloats(n, seed++, -scale, scale));
    constants[name] = { shape, offset: floats * 4, length: n };
    floats += n;
    return name;
  };
  const shapes: Record<string, number[]> = { input: [1, H, W, 3] };
  const nodes: GraphNode[] = [];
  const same = (n: number, s: number) => Math.ceil(n / s);
  const relu6: Clamp = opts.quantClamp ? { min: 0, max: 5.5 } : ACTIVATIONS.relu6;
  const conv = (name: string, x: string, k: number, cout: number, stride: number, act: Clamp, dw = false) => {
    const [, h, w, cin] = shapes[x]!;
    const out = `${name}:out`;
    shapes[out] = [1, same(h!, stride), same(w!, stride), dw ? cin! : cout];
    const fan = k * k * (dw ? 1 : cin!);
    const filter = constant(`${name}/filter`, dw ? [k, k, cin!] : [k, k, cin!, cout], 1.5 / Math.sqrt(fan));
    const bias = constant(`${name}/bias`, [dw ? cin! : cout], 0.2);
    nodes.push(
      dw
        ? {
            op: 'depthwise_conv2d',
            name,
            inputs: [x],
            outputs: [out],
            filter,
            bias,
            strides: [stride, stride],
            padding: 'SAME',
            activation: act,
          }
        : {
            op: 'conv2d',
            name,
            inputs: [x],
            outputs: [out],
            filter,
            bias,
            strides: [stride, stride],
            padding: 'SAME',
            activation: act,
          },
    );
    return out;
  };
  const stem = conv('stem', 'input', 3, 8, 2, relu6);
  const e1 = conv('b1/expand', stem, 1, 24, 1, relu6);
  const d1 = conv('b1/depthwise', e1, 3, 0, 1, relu6, true);
  const p1 = conv('b1/project', d1, 1, 8, 1, ACTIVATIONS.none);
  shapes['b1/add'] = shapes[p1]!;
  nodes.push({
    op: 'add',
    name: 'b1/add',
    inputs: [p1, stem],
    outputs: ['b1/add'],
    activation: opts.quantClamp ? { min: -4, max: 4 } : ACTIVATIONS.none,
  });
  const e2 = conv('b2/expand', 'b1/add', 1, 16, 1, relu6);
  const d2 = conv('b2/depthwise', e2, 3, 0, 2, relu6, true);
  const featA = conv('b2/project', d2, 1, 12, 1, ACTIVATIONS.none);
  const x1 = conv('extra/1x1', featA, 1, 8, 1, relu6);
  const featB = conv('extra/3x3', x1, 3, 12, 2, relu6);
  const anchors = [2, 3];
  const boxParts: string[] = [],
    clsParts: string[] = [];
  let total = 0;
  [featA, featB].forEach((f, i) => {
    const [, h, w] = shapes[f]!;
    const k = i === 0 ? 1 : 3;
    const a = anchors[i]!;
    const bx = conv(`box${i}`, f, k, a * 4, 1, ACTIVATIONS.none);
    const cl = conv(`cls${i}`, f, k, a * C, 1, ACTIVATIONS.none);
    const n = h! * w! * a;
    total += n;
    for (const [src, parts, last] of [
      [bx, boxParts, 4],
      [cl, clsParts, C],
    ] as const) {
      const r = `${src}:reshape`;
      shapes[r] = [1, n, last];
      nodes.push({ op: 'reshape', name: r, inputs: [src], outputs: [r], shape: [1, n, last] });
      parts.push(r);
    }
  });
  shapes['boxes'] = [1, total, 4];
  shapes['scores'] = [1, total, C];
  nodes.push({
    op: 'concat',
    name: 'boxes',
    inputs: boxParts,
    outputs: ['boxes'],
    axis: 1,
    activation: ACTIVATIONS.none,
  });
  nodes.push({
    op: 'concat',
    name: 'scores',
    inputs: clsParts,
    outputs: ['scores'],
    axis: 1,
    activation: opts.quantClamp ? { min: -6, max: 6 } : ACTIVATIONS.none,
  });
  const anchorName = constant('anchors', [total, 4], 0.5);
  const weights = new Float32Array(floats);
  let at = 0;
  for (const c of chunks) {
    weights.set(c, at);
    at += c.length;
  }
  const json: ModelJson = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    name: 'synthetic',
    description: 'random-weight SSD-shaped test model',
    source: { file: 'synthetic', sha256: '', converter: 'test' },
    weights: { file: 'weights.bin', byteLength: weights.byteLength, sha256: '', layout: 'float32-le' },
    preprocess: { width: W, height: H, resize: 'stretch', halfPixelCenters: true, mean: 127.5, std: 127.5 },
    input: 'input',
    shapes,
    constants,
    nodes,
    outputs: { boxes: 'boxes', scores: 'scores' },
    labels: ['background', ...Array.from({ length: C - 1 }, (_, i) => `class${i + 1}`)],
    ssd: {
      anchors: anchorName,
      scales: { y: 10, x: 10, h: 5, w: 5 },
      scoreFunction: 'sigmoid',
      backgroundClass: 0,
      defaults: { scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 100, perClassNms: false },
    },
  };
  return { json, weights };
}
