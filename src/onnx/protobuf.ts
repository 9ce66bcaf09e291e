/**
 * The few protobuf wire-format primitives an ONNX file needs: varints (int64 as two's complement,
 * so negative values take ten bytes), length-delimited fields (strings, bytes, sub-messages, packed
 * repeated scalars) and fixed32 floats. Sub-messages are encoded to bytes first, because their
 * length prefix must precede them.
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];

  private flushScratch(): void {
    if (this.scratch.length) {
      this.chunks.push(Uint8Array.from(this.scratch));
      this.scratch = [];
    }
  }

  private rawVarint(value: number | bigint): void {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new RangeError(`varint ${value} is not a safe integer`);
      if (value < 0) return this.rawVarint(BigInt(value));
      while (value >= 0x80) {
        this.scratch.push((value % 0x80) | 0x80);
        value = Math.floor(value / 0x80);
      }
      this.scratch.push(value);
      return;
    }
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  private lengthDelimited(field: number, bytes: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(bytes.length);
    this.flushScratch();
    this.chunks.push(bytes);
    return this;
  }

  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.scratch.push(...b);
    return this;
  }

  string(field: number, value: string): this {
    return this.lengthDelimited(field, new TextEncoder().encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    return this.lengthDelimited(field, value);
  }

  message(field: number, sub: ProtoWriter): this {
    return this.lengthDelimited(field, sub.finish());
  }

  /** proto3 packs repeated scalar numbers by default. */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.rawVarint(v);
    return this.lengthDelimited(field, inner.finish());
  }

  packedFloats(field: number, values: readonly number[]): this {
    const b = new Uint8Array(values.length * 4);
    const view = new DataView(b.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return this.lengthDelimited(field, b);
  }

  finish(): Uint8Array {
    this.flushScratch();
    const total = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks = [out];
    return out;
  }
}
