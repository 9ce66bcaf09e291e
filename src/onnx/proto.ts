/**
 * ONNX messages as plain objects and their encoding with the field numbers of onnx.proto3
 * (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto,
 * TensorShapeProto, OperatorSetIdProto). Only what a float32 convolutional graph needs.
 */
import { ProtoWriter } from './protobuf.ts';

/** TensorProto.DataType values. */
const ONNX_FLOAT = 1;
const ONNX_INT64 = 7;

/** AttributeProto.AttributeType values. */
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

export interface OnnxTensor {
  name: string;
  dims: readonly number[];
  data: Float32Array | BigInt64Array;
}

export type OnnxAttribute =
  | { name: string; int: number }
  | { name: string; ints: readonly number[] }
  | { name: string; float: number }
  | { name: string; s: string };

export interface OnnxNode {
  name: string;
  opType: string;
  /** An empty string leaves an optional input out (e.g. Clip without a lower bound). */
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: readonly OnnxAttribute[];
}

/** A float32 graph input or output; a string dimension is symbolic (dim_param). */
export interface OnnxValueInfo {
  name: string;
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  docString: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModelInfo {
  /** IR version 7 is the one that goes with opset 13. */
  irVersion: number;
  opset: number;
  producerName: string;
  producerVersion: string;
  docString: string;
}

function tensorProto(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter()
    .packedVarints(1, t.dims)
    .varint(2, t.data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64)
    .string(8, t.name);
  // raw_data is little-endian; so are all hosts this runs on (see src/graph/model_format.ts).
  return w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function attributeProto(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  if ('int' in a) return w.varint(20, ATTR_INT).varint(3, a.int);
  if ('ints' in a) return w.varint(20, ATTR_INTS).packedVarints(8, a.ints);
  if ('s' in a) return w.varint(20, ATTR_STRING).string(4, a.s);
  return w.varint(20, ATTR_FLOAT).float(2, a.float);
}

function nodeProto(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, attributeProto(a));
  return w;
}

function valueInfoProto(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape)
    shape.message(1, typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().varint(1, ONNX_FLOAT).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function graphProto(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, nodeProto(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensorProto(t));
  w.string(10, g.docString);
  for (const v of g.inputs) w.message(11, valueInfoProto(v));
  for (const v of g.outputs) w.message(12, valueInfoProto(v));
  return w;
}

export function encodeOnnxModel(graph: OnnxGraph, info: OnnxModelInfo): Uint8Array {
  const opset = new ProtoWriter().string(1, '').varint(2, info.opset);
  return new ProtoWriter()
    .varint(1, info.irVersion)
    .string(2, info.producerName)
    .string(3, info.producerVersion)
    .string(6, info.docString)
    .message(7, graphProto(graph))
    .message(8, opset)
    .finish();
}
