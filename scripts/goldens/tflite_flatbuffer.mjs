// Minimal reader (and one patch) for TensorFlow Lite model flatbuffers: enough of the schema to list a
// subgraph's tensors (name, shape, type, quantization), its inputs/outputs and operators, and to write a
// copy of the model whose subgraph outputs list is replaced. Written for the golden tooling only.

export const TENSOR_TYPES = [
  'float32',
  'float16',
  'int32',
  'uint8',
  'int64',
  'string',
  'bool',
  'int16',
  'complex64',
  'int8',
  'float64',
];

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(p) {
    return this.view.getUint8(p);
  }
  u16(p) {
    return this.view.getUint16(p, true);
  }
  i32(p) {
    return this.view.getInt32(p, true);
  }
  u32(p) {
    return this.view.getUint32(p, true);
  }
  /** Absolute position of field `id` of the table at `t`, or 0 when absent. */
  field(t, id) {
    const vt = t - this.i32(t);
    const vtSize = this.u16(vt);
    const slot = 4 + 2 * id;
    if (slot >= vtSize) return 0;
    const off = this.u16(vt + slot);
    return off ? t + off : 0;
  }
  indirect(p) {
    return p + this.u32(p);
  }
  table(t, id) {
    const p = this.field(t, id);
    return p ? this.indirect(p) : 0;
  }
  vector(t, id) {
    const p = this.field(t, id);
    if (!p) return null;
    const v = this.indirect(p);
    return { start: v + 4, length: this.u32(v), fieldPos: p };
  }
  string(t, id) {
    const v = this.vector(t, id);
    return v ? new TextDecoder().decode(this.bytes.subarray(v.start, v.start + v.length)) : null;
  }
  tables(t, id) {
    const v = this.vector(t, id);
    if (!v) return [];
    return Array.from({ length: v.length }, (_, i) => this.indirect(v.start + 4 * i));
  }
  ints(t, id) {
    const v = this.vector(t, id);
    return v ? Array.from({ length: v.length }, (_, i) => this.i32(v.start + 4 * i)) : [];
  }
  floats(t, id) {
    const v = this.vector(t, id);
    return v ? Array.from({ length: v.length }, (_, i) => this.view.getFloat32(v.start + 4 * i, true)) : [];
  }
  longs(t, id) {
    const v = this.vector(t, id);
    return v ? Array.from({ length: v.length }, (_, i) => Number(this.view.getBigInt64(v.start + 8 * i, true))) : [];
  }
  scalarU8(t, id, dflt) {
    const p = this.field(t, id);
    return p ? this.u8(p) : dflt;
  }
  scalarI32(t, id, dflt) {
    const p = this.field(t, id);
    return p ? this.i32(p) : dflt;
  }
  scalarU32(t, id, dflt) {
    const p = this.field(t, id);
    return p ? this.u32(p) : dflt;
  }
}

// Schema field ids (tensorflow/lite/schema/schema.fbs).
const MODEL = { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4 };
const SUBGRAPH = { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 };
const TENSOR = { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4 };
const QUANT = { min: 0, max: 1, scale: 2, zeroPoint: 3 };
const OPERATOR = { opcodeIndex: 0, inputs: 1, outputs: 2 };
const OPCODE = { deprecatedBuiltinCode: 0, customCode: 1, version: 2, builtinCode: 3 };
const BUFFER = { data: 0 };

/** Parses the parts of a .tflite file the golden tooling needs. */
export function parseTflite(bytes) {
  const r = new Reader(bytes);
  const ident = new TextDecoder().decode(bytes.subarray(4, 8));
  if (ident !== 'TFL3') throw new Error(`not a TFLite flatbuffer (identifier '${ident}')`);
  const model = r.indirect(0);
  const buffers = r.tables(model, MODEL.buffers).map((b) => {
    const v = r.vector(b, BUFFER.data);
    return v ? { start: v.start, length: v.length } : { start: 0, length: 0 };
  });
  const opcodes = r.tables(model, MODEL.operatorCodes).map((c) => {
    const deprecated = r.scalarU8(c, OPCODE.deprecatedBuiltinCode, 0);
    const builtin = r.scalarI32(c, OPCODE.builtinCode, 0);
    return { builtinCode: Math.max(deprecated, builtin), customCode: r.string(c, OPCODE.customCode) };
  });
  const subgraphs = r.tables(model, MODEL.subgraphs).map((sg) => {
    const tensors = r.tables(sg, SUBGRAPH.tensors).map((t, index) => {
      const q = r.table(t, TENSOR.quantization);
      const quant = q
        ? {
            scale: r.floats(q, QUANT.scale),
            zeroPoint: r.longs(q, QUANT.zeroPoint),
            min: r.floats(q, QUANT.min),
            max: r.floats(q, QUANT.max),
          }
        : null;
      const buffer = r.scalarU32(t, TENSOR.buffer, 0);
      return {
        index,
        name: r.string(t, TENSOR.name),
        shape: r.ints(t, TENSOR.shape),
        type: TENSOR_TYPES[r.scalarU8(t, TENSOR.type, 0)] ?? `type${r.scalarU8(t, TENSOR.type, 0)}`,
        buffer,
        constant: buffers[buffer]?.length > 0,
        quantization: quant && quant.scale.length ? quant : null,
      };
    });
    const operators = r.tables(sg, SUBGRAPH.operators).map((o) => ({
      opcode: opcodes[r.scalarU32(o, OPERATOR.opcodeIndex, 0)],
      inputs: r.ints(o, OPERATOR.inputs),
      outputs: r.ints(o, OPERATOR.outputs),
    }));
    const outputsVec = r.vector(sg, SUBGRAPH.outputs);
    return {
      name: r.string(sg, SUBGRAPH.name),
      tensors,
      inputs: r.ints(sg, SUBGRAPH.inputs),
      outputs: r.ints(sg, SUBGRAPH.outputs),
      operators,
      outputsFieldPos: outputsVec?.fieldPos ?? 0,
    };
  });
  return {
    version: r.scalarU32(model, MODEL.version, 0),
    description: r.string(model, MODEL.description),
    subgraphs,
    buffers,
  };
}

/**
 * Returns a copy of the model whose subgraph `sg` lists `outputs` (tensor indices) as its outputs. The new
 * int32 vector is appended at the end of the file (4-byte aligned) and the subgraph's `outputs` offset is
 * pointed at it; nothing else moves, so every other offset stays valid.
 */
export function withSubgraphOutputs(bytes, sg, outputs) {
  const model = parseTflite(bytes);
  const fieldPos = model.subgraphs[sg].outputsFieldPos;
  if (!fieldPos) throw new Error('subgraph has no outputs field to patch');
  const start = Math.ceil(bytes.length / 4) * 4;
  const out = new Uint8Array(start + 4 + 4 * outputs.length);
  out.set(bytes);
  const view = new DataView(out.buffer);
  view.setUint32(start, outputs.length, true);
  outputs.forEach((t, i) => view.setInt32(start + 4 + 4 * i, t, true));
  view.setUint32(fieldPos, start - fieldPos, true);
  const check = parseTflite(out).subgraphs[sg].outputs;
  if (check.join() !== outputs.join()) throw new Error(`patch failed: outputs read back as ${check}`);
  return out;
}
