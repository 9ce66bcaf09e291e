/**
 * A small TFLite writer for tests: hostile files that are structurally valid (a huge but consistent
 * graph, thousands of same-named tensors) cannot come from mutating a real model. Tables are laid
 * out parent first, each vtable just before its table, every child after the slot that points at
 * it (uoffsets only point forward). Field ids as in src/convert/tflite.ts.
 */
type Scalar = { kind: 'i32' | 'u32' | 'u8' | 'i8' | 'f32'; value: number };
type Ref =
  | { kind: 'table'; fields: Fields }
  | { kind: 'string'; value: string }
  | { kind: 'i32s'; values: readonly number[] }
  | { kind: 'f32s'; values: readonly number[] }
  | { kind: 'i64s'; values: readonly number[] }
  | { kind: 'bytes'; value: Uint8Array }
  | { kind: 'tables'; items: readonly Fields[] };
type Fields = readonly (Scalar | Ref | undefined)[];

export const fb = {
  i32: (value: number): Scalar => ({ kind: 'i32', value }),
  u32: (value: number): Scalar => ({ kind: 'u32', value }),
  u8: (value: number): Scalar => ({ kind: 'u8', value }),
  i8: (value: number): Scalar => ({ kind: 'i8', value }),
  f32: (value: number): Scalar => ({ kind: 'f32', value }),
  table: (fields: Fields): Ref => ({ kind: 'table', fields }),
  string: (value: string): Ref => ({ kind: 'string', value }),
  i32s: (values: readonly number[]): Ref => ({ kind: 'i32s', values }),
  f32s: (values: readonly number[]): Ref => ({ kind: 'f32s', values }),
  i64s: (values: readonly number[]): Ref => ({ kind: 'i64s', values }),
  bytes: (value: Uint8Array): Ref => ({ kind: 'bytes', value }),
  tables: (items: readonly Fields[]): Ref => ({ kind: 'tables', items }),
};

const WIDTH = { i32: 4, u32: 4, f32: 4, u8: 1, i8: 1 } as const;

class Writer {
  private bytes = new Uint8Array(1 << 16);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  reserve(n: number, align = 4): number {
    const at = Math.ceil(this.length / align) * align;
    while (at + n > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length = at + n;
    return at;
  }

  scalar(at: number, s: Scalar): void {
    const set = { i32: 'setInt32', u32: 'setUint32', f32: 'setFloat32', u8: 'setUint8', i8: 'setInt8' } as const;
    this.view[set[s.kind]].call(this.view, at, s.value, true);
  }

  /** Writes `ref` and points the uoffset slot at `slot` to it. */
  child(slot: number, ref: Ref): void {
    const at = this.ref(ref);
    this.view.setUint32(slot, at - slot, true);
  }

  ref(r: Ref): number {
    switch (r.kind) {
      case 'table':
        return this.table(r.fields);
      case 'string': {
        const text = new TextEncoder().encode(r.value);
        const at = this.reserve(4 + text.length + 1);
        this.view.setUint32(at, text.length, true);
        this.bytes.set(text, at + 4);
        return at;
      }
      case 'i32s': {
        const at = this.reserve(4 + 4 * r.values.length);
        this.view.setUint32(at, r.values.length, true);
        r.values.forEach((v, i) => this.view.setInt32(at + 4 + 4 * i, v, true));
        return at;
      }
      case 'f32s': {
        const at = this.reserve(4 + 4 * r.values.length);
        this.view.setUint32(at, r.values.length, true);
        r.values.forEach((v, i) => this.view.setFloat32(at + 4 + 4 * i, v, true));
        return at;
      }
      case 'i64s': {
        // The elements, not the length prefix, are 8-byte aligned.
        const pad = Math.ceil((this.length + 4) / 8) * 8 - 4 - this.length;
        const at = this.reserve(pad + 4 + 8 * r.values.length, 1) + pad;
        this.view.setUint32(at, r.values.length, true);
        r.values.forEach((v, i) => this.view.setBigInt64(at + 4 + 8 * i, BigInt(v), true));
        return at;
      }
      case 'bytes': {
        const at = this.reserve(4 + r.value.length);
        this.view.setUint32(at, r.value.length, true);
        this.bytes.set(r.value, at + 4);
        return at;
      }
      case 'tables': {
        const at = this.reserve(4 + 4 * r.items.length);
        this.view.setUint32(at, r.items.length, true);
        r.items.forEach((fields, i) => this.child(at + 4 + 4 * i, { kind: 'table', fields }));
        return at;
      }
    }
  }

  table(fields: Fields): number {
    const vt = this.reserve(4 + 2 * fields.length, 2);
    let size = 4;
    const offsets = fields.map((f) => {
      if (!f) return 0;
      const w = f.kind in WIDTH ? WIDTH[f.kind as keyof typeof WIDTH] : 4;
      size = Math.ceil(size / w) * w;
      const o = size;
      size += w;
      return o;
    });
    const at = this.reserve(size);
    this.view.setUint16(vt, 4 + 2 * fields.length, true);
    this.view.setUint16(vt + 2, size, true);
    offsets.forEach((o, i) => this.view.setUint16(vt + 4 + 2 * i, o, true));
    this.view.setInt32(at, at - vt, true);
    fields.forEach((f, i) => {
      if (f && f.kind in WIDTH) this.scalar(at + offsets[i]!, f as Scalar);
    });
    fields.forEach((f, i) => {
      if (f && !(f.kind in WIDTH)) this.child(at + offsets[i]!, f as Ref);
    });
    return at;
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** A flatbuffer with file identifier `id` whose root table has `fields`. */
export function writeFlatbuffer(id: string, fields: Fields): Uint8Array {
  const w = new Writer();
  w.reserve(8);
  const root = w.table(fields);
  const out = w.finish();
  new DataView(out.buffer).setUint32(0, root, true);
  out.set(
    Array.from(id, (c) => c.charCodeAt(0)),
    4,
  );
  return out;
}

export interface TensorSpec {
  shape: number[];
  /** TensorType code (0 FLOAT32, 3 UINT8). */
  type?: number;
  buffer?: number;
  name: string;
  /** Per-tensor (or per-channel along quantizedDimension) scale and zero point. */
  quantization?: { scale: number[]; zeroPoint: number[]; quantizedDimension?: number };
}
export interface OperatorSpec {
  opcode: number;
  inputs: number[];
  outputs: number[];
  /** BuiltinOptions union type and its table. */
  options?: { type: number; fields: Fields };
}

/** A TFLite model (schema version 3, one subgraph) from builtin operator codes, tensors and operators. */
export function writeTflite(m: {
  builtins: number[];
  tensors: TensorSpec[];
  operators: OperatorSpec[];
  inputs: number[];
  outputs: number[];
  buffers?: Uint8Array[];
}): Uint8Array {
  const opcodes = m.builtins.map((b) => [fb.i8(Math.min(b, 127)), undefined, fb.i32(1), fb.i32(b)]);
  const tensors = m.tensors.map((t) => [
    fb.i32s(t.shape),
    fb.i8(t.type ?? 0),
    fb.u32(t.buffer ?? 0),
    fb.string(t.name),
    t.quantization
      ? fb.table([
          undefined,
          undefined,
          fb.f32s(t.quantization.scale),
          fb.i64s(t.quantization.zeroPoint),
          undefined,
          undefined,
          fb.i32(t.quantization.quantizedDimension ?? 0),
        ])
      : undefined,
  ]);
  const operators = m.operators.map((op) => [
    fb.u32(op.opcode),
    fb.i32s(op.inputs),
    fb.i32s(op.outputs),
    op.options ? fb.u8(op.options.type) : undefined,
    op.options ? fb.table(op.options.fields) : undefined,
  ]);
  const subgraph = [fb.tables(tensors), fb.i32s(m.inputs), fb.i32s(m.outputs), fb.tables(operators)];
  const buffers = [new Uint8Array(0), ...(m.buffers ?? [])].map((b) => [b.length ? fb.bytes(b) : undefined]);
  return writeFlatbuffer('TFL3', [
    fb.u32(3),
    fb.tables(opcodes),
    fb.tables([subgraph]),
    fb.string('test'),
    fb.tables(buffers),
  ]);
}
