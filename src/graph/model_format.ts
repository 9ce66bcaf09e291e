/**
 * Reading and writing mobilessd's model format (model.json + a float32 weights file), with full
 * validation on load: format name and version, weights size and SHA-256, every constant inside
 * the weights, every node input defined before use, known ops, and shapes that agree with the
 * convolution geometry the kernels will use. Platform-neutral (Web Crypto, no file system), so
 * browsers load models through the same checks; file I/O lives in src/node/model_files.ts.
 */
import { ChecksumError, ModelFormatError } from '../errors.ts';
import { Checker } from '../core/checker.ts';
import { decodeFloat16, encodeFloat16 } from './float16.ts';
import { product, sameShape } from '../core/shape.ts';
import { ShapeError, type GraphNode, type ShapeContext } from '../ops/support/node.ts';
import { findOp } from '../ops/support/registry.ts';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelJson } from './ir.ts';
import type { LoadedModel } from './weights.ts';

/**
 * Bounds on what a model may declare, far above any SSD detector (inputs of 300-640 pixels, graphs
 * of a few hundred nodes), so that a small hostile file cannot make loading or lowering cost
 * gigabytes or minutes: anchor tables and activations scale with the input side, and the lowering
 * and memory planning passes with the node count.
 */
export const MAX_INPUT_SIDE = 4096;
export const MAX_GRAPH_NODES = 4096;

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The weights as the bytes of the weights file (little-endian float32; all supported hosts are LE). */
export function weightsBytes(weights: Float32Array): Uint8Array {
  return new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
}

export async function weightsInfo(weights: Float32Array, file = 'weights.bin'): Promise<ModelJson['weights']> {
  return { file, byteLength: weights.byteLength, sha256: await sha256Hex(weightsBytes(weights)), layout: 'float32-le' };
}

export function serializeModel(model: LoadedModel): { json: string; weights: Uint8Array } {
  return { json: `${JSON.stringify(model.json, null, 1)}\n`, weights: weightsBytes(model.weights) };
}

/**
 * The model with float16 weights (`layout: "float16-le"`), for serving to browsers: every value as float16,
 * then, as float32, the constants named in `keepFloat32` (their float16 slots are overwritten on load).
 * Loading widens everything back to float32.
 */
export async function serializeModelFloat16(
  model: LoadedModel,
  keepFloat32: readonly string[] = [],
  file = model.json.weights.file,
): Promise<{ json: string; weights: Uint8Array }> {
  const half = encodeFloat16(model.weights);
  const exact = keepFloat32.map((name) => {
    const c = model.json.constants[name];
    if (!c) throw new Error(`model ${model.json.name}: constant ${name} is missing`);
    return model.weights.subarray(c.offset / 4, c.offset / 4 + c.length);
  });
  const weights = new Uint8Array(half.byteLength + 4 * exact.reduce((n, e) => n + e.length, 0));
  weights.set(half);
  let at = half.byteLength;
  for (const e of exact) {
    weights.set(weightsBytes(e), at);
    at += e.byteLength;
  }
  const info = {
    file,
    byteLength: weights.byteLength,
    sha256: await sha256Hex(weights),
    layout: 'float16-le' as const,
    ...(keepFloat32.length ? { float32: [...keepFloat32] } : {}),
  };
  return { json: `${JSON.stringify({ ...model.json, weights: info }, null, 1)}\n`, weights };
}

/** float16 weights widened to float32, with the constants kept as float32 put back (serializeModelFloat16). */
function widenFloat16(c: Checker, w: Record<string, unknown>, bytes: Uint8Array, constants: unknown): Float32Array {
  const names =
    w.float32 === undefined ? [] : c.arr(w.float32, 'weights.float32').map((n, i) => c.str(n, `weights.float32[${i}]`));
  const table = c.obj(constants, 'constants');
  const tensors = names.map((n) => {
    const t = c.obj(table[n], `constants.${n} (named by weights.float32)`);
    return { offset: c.int(t.offset, `constants.${n}.offset`, 0), length: c.int(t.length, `constants.${n}.length`, 0) };
  });
  const exactBytes = 4 * tensors.reduce((n, t) => n + t.length, 0);
  if (bytes.byteLength < exactBytes || (bytes.byteLength - exactBytes) % 2 !== 0)
    c.fail(`weights.byteLength ${bytes.byteLength} does not fit float16 values and ${exactBytes} bytes of float32`);
  const floats = decodeFloat16(bytes.subarray(0, bytes.byteLength - exactBytes));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = bytes.byteLength - exactBytes;
  for (const t of tensors) {
    if (t.offset % 4 !== 0 || t.offset / 4 + t.length > floats.length)
      c.fail(`a float32 constant lies outside the weights`);
    for (let i = 0; i < t.length; i++, at += 4) floats[t.offset / 4 + i] = view.getFloat32(at, true);
  }
  return floats;
}

/**
 * Parses and validates a model. `file` names the model.json in errors; the weights file is named
 * after it (same folder, `weights.file`).
 */
export async function parseModel(jsonText: string, weights: Uint8Array, file: string): Promise<LoadedModel> {
  let raw: unknown;
  try {
    raw = JSON.parse(jsonText);
  } catch (e) {
    throw new ModelFormatError(file, `not valid JSON (${(e as Error).message})`);
  }
  const c = new Checker(file);
  const top = c.obj(raw, 'model.json');
  checkHeader(c, top);
  const w = c.obj(top.weights, 'weights');
  const weightsFile = weightsPath(file, c.str(w.file, 'weights.file'));
  if (w.layout !== 'float32-le' && w.layout !== 'float16-le')
    c.fail(`weights.layout is ${JSON.stringify(w.layout)}, expected "float32-le" or "float16-le"`);
  const elementBytes = w.layout === 'float16-le' ? 2 : 4;
  const byteLength = c.int(w.byteLength, 'weights.byteLength', 0);
  if (weights.byteLength !== byteLength) {
    throw new ModelFormatError(
      weightsFile,
      `has ${weights.byteLength} bytes, model.json says ${byteLength}`,
      'the weights file is truncated or belongs to another model; convert the model again',
    );
  }
  if (elementBytes === 4 && byteLength % 4 !== 0) c.fail(`weights.byteLength ${byteLength} is not a multiple of 4`);
  const expected = c.str(w.sha256, 'weights.sha256');
  const actual = await sha256Hex(weights);
  if (actual !== expected) throw new ChecksumError(weightsFile, expected, actual);
  const floats =
    elementBytes === 2
      ? widenFloat16(c, w, weights, top.constants)
      : weights.byteOffset % 4 === 0
        ? new Float32Array(weights.buffer, weights.byteOffset, byteLength / 4)
        : new Float32Array(weights.slice().buffer);
  validateModel(raw, floats, file);
  return { json: raw, weights: floats };
}

function weightsPath(jsonFile: string, name: string): string {
  const slash = Math.max(jsonFile.lastIndexOf('/'), jsonFile.lastIndexOf('\\'));
  return slash < 0 ? name : `${jsonFile.slice(0, slash + 1)}${name}`;
}

function checkHeader(c: Checker, top: Record<string, unknown>): void {
  if (top.format !== MODEL_FORMAT) c.fail(`format is ${JSON.stringify(top.format)}, expected "${MODEL_FORMAT}"`);
  const version = top.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1)
    c.fail(`format version ${JSON.stringify(version)} is invalid`);
  if (version > MODEL_FORMAT_VERSION) {
    throw new ModelFormatError(
      c.file,
      `format version ${version} is newer than this mobilessd reads (version ${MODEL_FORMAT_VERSION})`,
      'upgrade mobilessd, or convert the model again with this version',
    );
  }
}

/**
 * Structural validation of a model whose weights are already in memory (converter output is
 * checked the same way in tests). Throws ModelFormatError naming `file` and the first problem.
 */
export function validateModel(raw: unknown, weights: Float32Array, file: string): asserts raw is ModelJson {
  const c = new Checker(file);
  const top = c.obj(raw, 'model.json');
  checkHeader(c, top);
  c.str(top.name, 'name');
  const pre = c.obj(top.preprocess, 'preprocess');
  const width = c.int(pre.width, 'preprocess.width', 1);
  const height = c.int(pre.height, 'preprocess.height', 1);
  if (width > MAX_INPUT_SIDE || height > MAX_INPUT_SIDE)
    c.fail(`the input of ${width}x${height} pixels is larger than the ${MAX_INPUT_SIDE}-pixel sides mobilessd runs`);
  if (!['stretch', 'pad-bottom-right', 'letterbox'].includes(pre.resize as string))
    c.fail(`preprocess.resize ${JSON.stringify(pre.resize)} is unknown`);
  if (typeof pre.halfPixelCenters !== 'boolean') c.fail('preprocess.halfPixelCenters is not a boolean');
  c.num(pre.mean, 'preprocess.mean');
  if (c.num(pre.std, 'preprocess.std') === 0) c.fail('preprocess.std is 0');

  const constants = c.obj(top.constants, 'constants');
  const constShape = new Map<string, number[]>();
  for (const [name, v] of Object.entries(constants)) {
    const t = c.obj(v, `constant ${name}`);
    const shape = c.shape(t.shape, `constant ${name} shape`);
    const offset = c.int(t.offset, `constant ${name} offset`, 0);
    const length = c.int(t.length, `constant ${name} length`, 0);
    if (offset % 4 !== 0) c.fail(`constant ${name} offset ${offset} is not a multiple of 4`);
    if (length !== product(shape))
      c.fail(`constant ${name} has length ${length} but shape [${shape}] holds ${product(shape)}`);
    if (offset / 4 + length > weights.length)
      c.fail(
        `constant ${name} (floats ${offset / 4}..${offset / 4 + length}) lies outside the weights (${weights.length} floats)`,
      );
    constShape.set(name, shape);
  }

  const shapesRaw = c.obj(top.shapes, 'shapes');
  const shapeOf = (t: string, what: string): number[] => {
    if (!Object.hasOwn(shapesRaw, t)) c.fail(`${what}: no shape recorded for tensor ${t}`);
    return c.shape(shapesRaw[t], `shape of ${t}`);
  };
  const input = c.str(top.input, 'input');
  const inShape = shapeOf(input, 'input');
  if (!sameShape(inShape, [1, height, width, 3]))
    c.fail(`input ${input} has shape [${inShape}], expected [1,${height},${width},3] from preprocess`);

  const defined = new Set([input]);
  const names = new Set<string>();
  const nodes = c.arr(top.nodes, 'nodes');
  if (nodes.length > MAX_GRAPH_NODES)
    c.fail(`the graph has ${nodes.length} nodes, more than the ${MAX_GRAPH_NODES} mobilessd runs`);
  nodes.forEach((n, i) =>
    checkNode(c, c.obj(n, `node ${i}`), i, { defined, names, shapeOf, constShape: (name) => constShape.get(name) }),
  );

  const outputs = c.obj(top.outputs, 'outputs');
  const boxes = c.str(outputs.boxes, 'outputs.boxes');
  const scores = c.str(outputs.scores, 'outputs.scores');
  for (const t of [boxes, scores]) if (!defined.has(t)) c.fail(`output ${t} is not computed by any node`);
  const bs = shapeOf(boxes, 'outputs.boxes');
  const ss = shapeOf(scores, 'outputs.scores');
  const ssd = c.obj(top.ssd, 'ssd');
  const coords = ssd.decoding === undefined ? 4 : checkDecoding(c, ssd.decoding);
  if (bs.length !== 3 || bs[0] !== 1 || bs[2] !== coords)
    c.fail(`outputs.boxes ${boxes} has shape [${bs}], expected [1, anchors, ${coords}]`);
  if (ss.length !== 3 || ss[0] !== 1 || ss[1] !== bs[1])
    c.fail(`outputs.scores ${scores} has shape [${ss}], expected [1, ${bs[1]}, classes]`);
  const classes = ss[2]!;
  const labels = c.arr(top.labels, 'labels');
  if (labels.length !== classes) c.fail(`${labels.length} labels for ${classes} score columns`);
  labels.forEach((l, i) => c.str(l, `labels[${i}]`));

  const anchors = c.str(ssd.anchors, 'ssd.anchors');
  const as = constShape.get(anchors);
  if (!as || !sameShape(as, [bs[1]!, 4]))
    c.fail(`ssd.anchors ${anchors} must be a constant of shape [${bs[1]}, 4], found ${as ? `[${as}]` : 'none'}`);
  const scales = c.obj(ssd.scales, 'ssd.scales');
  for (const k of ['y', 'x', 'h', 'w'])
    if (!(c.num(scales[k], `ssd.scales.${k}`) > 0)) c.fail(`ssd.scales.${k} must be positive`);
  if (ssd.scoreFunction !== 'sigmoid' && ssd.scoreFunction !== 'softmax')
    c.fail(`ssd.scoreFunction ${JSON.stringify(ssd.scoreFunction)} is unknown`);
  const bg = c.int(ssd.backgroundClass, 'ssd.backgroundClass', -1);
  if (bg >= classes) c.fail(`ssd.backgroundClass ${bg} is not one of the ${classes} columns`);
  const d = c.obj(ssd.defaults, 'ssd.defaults');
  const score = c.num(d.scoreThreshold, 'ssd.defaults.scoreThreshold');
  const iou = c.num(d.iouThreshold, 'ssd.defaults.iouThreshold');
  if (!(score >= 0 && score <= 1 && iou > 0 && iou <= 1))
    c.fail(`ssd.defaults thresholds out of range (score ${score}, IoU ${iou})`);
  c.int(d.maxDetections, 'ssd.defaults.maxDetections', 1);
  if (typeof d.perClassNms !== 'boolean') c.fail('ssd.defaults.perClassNms is not a boolean');
  if (d.nms !== undefined && d.nms !== 'greedy' && d.nms !== 'weighted')
    c.fail(`ssd.defaults.nms ${JSON.stringify(d.nms)} is not 'greedy' or 'weighted'`);
  if (top.quantization !== undefined) checkQuantization(c, top.quantization, defined, constShape);
}

/** ssd.decoding's fields; returns the row length the boxes output must have. */
function checkDecoding(c: Checker, v: unknown): number {
  const d = c.obj(v, 'ssd.decoding');
  const numCoords = c.int(d.numCoords, 'ssd.decoding.numCoords', 4);
  const boxOffset = c.int(d.boxOffset, 'ssd.decoding.boxOffset', 0);
  if (boxOffset + 4 > numCoords) c.fail(`ssd.decoding: the box at ${boxOffset} does not fit rows of ${numCoords}`);
  if (d.order !== 'yxhw' && d.order !== 'xywh') c.fail(`ssd.decoding.order ${JSON.stringify(d.order)} is unknown`);
  if (typeof d.exponentialSize !== 'boolean') c.fail('ssd.decoding.exponentialSize is not a boolean');
  if (d.scoreClipping !== undefined && !(c.num(d.scoreClipping, 'ssd.decoding.scoreClipping') > 0))
    c.fail('ssd.decoding.scoreClipping must be positive');
  if (d.keypoints !== undefined) {
    const k = c.obj(d.keypoints, 'ssd.decoding.keypoints');
    const offset = c.int(k.offset, 'ssd.decoding.keypoints.offset', 0);
    const per = c.int(k.valuesPerKeypoint, 'ssd.decoding.keypoints.valuesPerKeypoint', 2);
    const names = c.arr(k.names, 'ssd.decoding.keypoints.names');
    names.forEach((n, i) => c.str(n, `ssd.decoding.keypoints.names[${i}]`));
    if (names.length > MAX_KEYPOINTS)
      c.fail(`ssd.decoding.keypoints: ${names.length} keypoints, at most ${MAX_KEYPOINTS}`);
    if (offset + names.length * per > numCoords)
      c.fail(`ssd.decoding.keypoints: ${names.length} keypoints from ${offset} do not fit rows of ${numCoords}`);
  }
  return numCoords;
}

/** Keypoints per detection the SSD head carries (each adds two words to every record). */
export const MAX_KEYPOINTS = 64;

const ACTIVATION_NAMES = ['NONE', 'RELU', 'RELU6', 'RELU_N1_TO_1'];

function checkTensorQuant(c: Checker, v: unknown, what: string): void {
  const q = c.obj(v, what);
  if (q.dtype !== 'uint8' && q.dtype !== 'int8')
    c.fail(`${what}.dtype ${JSON.stringify(q.dtype)} is not uint8 or int8`);
  if (!(c.num(q.scale, `${what}.scale`) > 0)) c.fail(`${what}.scale must be positive`);
  const z = c.int(q.zeroPoint, `${what}.zeroPoint`, -128);
  if (z > 255) c.fail(`${what}.zeroPoint ${z} is outside the 8-bit range`);
  if (q.activation !== undefined && !ACTIVATION_NAMES.includes(q.activation as string))
    c.fail(`${what}.activation ${JSON.stringify(q.activation)} is unknown`);
}

/** Scales and zero points: of tensors the graph defines, of constants it has, one per channel of the last axis. */
function checkQuantization(
  c: Checker,
  v: unknown,
  defined: ReadonlySet<string>,
  constShape: ReadonlyMap<string, number[]>,
): void {
  const q = c.obj(v, 'quantization');
  for (const [name, t] of Object.entries(c.obj(q.tensors, 'quantization.tensors'))) {
    if (!defined.has(name)) c.fail(`quantization.tensors: ${name} is not a tensor of the graph`);
    checkTensorQuant(c, t, `quantization.tensors[${name}]`);
  }
  for (const [name, raw] of Object.entries(c.obj(q.constants, 'quantization.constants'))) {
    const what = `quantization.constants[${name}]`;
    const shape = constShape.get(name);
    if (!shape) c.fail(`${what}: no constant ${name}`);
    const k = c.obj(raw, what);
    if (k.dtype !== 'uint8' && k.dtype !== 'int8' && k.dtype !== 'int32')
      c.fail(`${what}.dtype ${JSON.stringify(k.dtype)} is unknown`);
    const scale = c.arr(k.scale, `${what}.scale`).map((s, i) => c.num(s, `${what}.scale[${i}]`));
    const zero = c.arr(k.zeroPoint, `${what}.zeroPoint`).map((z, i) => c.int(z, `${what}.zeroPoint[${i}]`, -128));
    if (scale.some((s) => !(s > 0))) c.fail(`${what}: scales must be positive`);
    if (zero.length !== scale.length || (scale.length !== 1 && scale.length !== shape.at(-1)))
      c.fail(`${what}: ${scale.length} scales and ${zero.length} zero points for shape [${shape}]`);
  }
  if (q.scores !== undefined) checkTensorQuant(c, q.scores, 'quantization.scores');
}

interface GraphState extends ShapeContext {
  defined: Set<string>;
  names: Set<string>;
  shapeOf: (t: string, what: string) => number[];
}

function checkNode(c: Checker, n: Record<string, unknown>, index: number, g: GraphState): GraphNode {
  const name = c.str(n.name, `node ${index} name`);
  const what = `node ${index} (${name})`;
  if (g.names.has(name)) c.fail(`${what}: duplicate node name`);
  g.names.add(name);
  const inputs = c.arr(n.inputs, `${what} inputs`).map((t, i) => c.str(t, `${what} input ${i}`));
  const outputs = c.arr(n.outputs, `${what} outputs`).map((t, i) => c.str(t, `${what} output ${i}`));
  for (const t of inputs) if (!g.defined.has(t)) c.fail(`${what}: input ${t} is used before it is defined`);
  if (outputs.length !== 1) c.fail(`${what}: has ${outputs.length} outputs, expected 1`);
  const out = outputs[0]!;
  if (g.defined.has(out)) c.fail(`${what}: output ${out} is already defined`);
  const def = typeof n.op === 'string' ? findOp(n.op) : undefined;
  if (!def) c.fail(`${what}: unknown op ${JSON.stringify(n.op)}`);
  const [least, most] = typeof def.arity === 'number' ? [def.arity, def.arity] : def.arity;
  if (inputs.length < least || inputs.length > most)
    c.fail(`${what}: has ${inputs.length} inputs, expected ${least === most ? least : `${least} or more`}`);
  const node = def.parse(n, { name, inputs, outputs }, c, what);
  const outShape = g.shapeOf(out, what);
  let computed: number[];
  try {
    computed = def.outputShape(
      node,
      inputs.map((t) => g.shapeOf(t, what)),
      g,
    );
  } catch (e) {
    if (e instanceof ShapeError) c.fail(`${what}: ${e.message}`);
    throw e;
  }
  if (!sameShape(computed, outShape))
    c.fail(`${what}: output ${out} is recorded as [${outShape}] but the op computes [${computed}]`);
  g.defined.add(out);
  return node;
}
