/**
 * A small FlatBuffers reader that trusts nothing in the file: every offset and length is checked
 * against the buffer before it is followed, and every allocation is bounded by bytes that exist.
 * Schema knowledge (which field id means what) lives in the caller; this file knows only the wire
 * format: a root uoffset, tables located through signed offsets to their vtables, and vectors and
 * strings prefixed by a uint32 length. Any violation throws TfliteFormatError naming the file.
 */
import { TfliteFormatError } from '../errors.ts';

/**
 * uoffsets only point forward, so the structure cannot loop, but many tables may share one big
 * vector. The budget caps the elements decoded per byte of file so a hostile file cannot turn a
 * small input into quadratic work.
 */
const WORK_PER_BYTE = 16;
const WORK_FLOOR = 1 << 20;

const utf8 = new TextDecoder('utf-8');

export class FlatBuffer {
  readonly view: DataView;
  private work: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.work = WORK_FLOOR + WORK_PER_BYTE * bytes.byteLength;
  }

  fail(problem: string): never {
    throw new TfliteFormatError(this.file, problem);
  }

  /** Throws unless [pos, pos + size) lies inside the buffer. */
  check(pos: number, size: number, what: string): void {
    if (!(
      Number.isInteger(pos) &&
      Number.isInteger(size) &&
      pos >= 0 &&
      size >= 0 &&
      pos + size <= this.bytes.byteLength
    )) {
      this.fail(`${what} at byte ${pos} (${size} bytes) lies outside the file (${this.bytes.byteLength} bytes)`);
    }
  }

  spend(elements: number, what: string): void {
    this.work -= elements;
    if (this.work < 0)
      this.fail(`${what}: decoding would read far more data than the file holds (overlapping structures?)`);
  }

  u16(pos: number, what: string): number {
    this.check(pos, 2, what);
    return this.view.getUint16(pos, true);
  }
  u32(pos: number, what: string): number {
    this.check(pos, 4, what);
    return this.view.getUint32(pos, true);
  }
  i32(pos: number, what: string): number {
    this.check(pos, 4, what);
    return this.view.getInt32(pos, true);
  }

  /** The 4-byte file identifier after the root offset ("TFL3" for TFLite), or "" if too short. */
  identifier(): string {
    if (this.bytes.byteLength < 8) return '';
    return String.fromCharCode(...this.bytes.subarray(4, 8));
  }

  root(what: string): Table {
    if (this.bytes.byteLength < 8) this.fail(`file of ${this.bytes.byteLength} bytes is too short for a flatbuffer`);
    return this.tableAt(this.follow(0, what), what);
  }

  /** Follows the uoffset stored at `pos`; the target must lie inside the buffer. */
  follow(pos: number, what: string): number {
    const target = pos + this.u32(pos, what);
    this.check(target, 1, what);
    return target;
  }

  tableAt(pos: number, what: string): Table {
    const vtable = pos - this.i32(pos, `${what} (table)`);
    const vtableSize = this.u16(vtable, `${what} (vtable)`);
    const tableSize = this.u16(vtable + 2, `${what} (vtable)`);
    if (vtableSize < 4 || vtableSize % 2 !== 0)
      this.fail(`${what}: vtable at byte ${vtable} declares an invalid size ${vtableSize}`);
    if (tableSize < 4) this.fail(`${what}: table at byte ${pos} declares an invalid size ${tableSize}`);
    this.check(vtable, vtableSize, `${what} (vtable)`);
    this.check(pos, tableSize, `${what} (table)`);
    this.spend(1, what);
    return new Table(this, pos, vtable, vtableSize, tableSize, what);
  }

  /** Locates the vector whose uoffset is stored at `pos`: start of its elements and their count. */
  vectorAt(pos: number, elementSize: number, what: string): { start: number; length: number } {
    const at = this.follow(pos, what);
    const length = this.u32(at, `${what} (length)`);
    const start = at + 4;
    if (length * elementSize > this.bytes.byteLength - start) {
      this.fail(
        `${what} declares ${length} elements of ${elementSize} bytes at byte ${start}, past the end of the file (${this.bytes.byteLength} bytes)`,
      );
    }
    return { start, length };
  }

  stringAt(pos: number, what: string): string {
    const { start, length } = this.vectorAt(pos, 1, what);
    this.spend(length, what);
    return utf8.decode(this.bytes.subarray(start, start + length));
  }
}

/** One table: fields are looked up by id through its vtable; absent fields give the default. */
export class Table {
  constructor(
    private readonly fb: FlatBuffer,
    readonly pos: number,
    private readonly vtable: number,
    private readonly vtableSize: number,
    private readonly tableSize: number,
    readonly path: string,
  ) {}

  /** Absolute position of field `id` (size bytes), or -1 when the field is absent. */
  private field(id: number, size: number, name: string): number {
    const slot = 4 + 2 * id;
    if (slot + 2 > this.vtableSize) return -1;
    const offset = this.fb.view.getUint16(this.vtable + slot, true);
    if (offset === 0) return -1;
    if (offset + size > this.tableSize) {
      this.fb.fail(
        `${this.path}.${name}: field at offset ${offset} (${size} bytes) runs past its table (${this.tableSize} bytes)`,
      );
    }
    return this.pos + offset;
  }

  u8(id: number, name: string, def = 0): number {
    const p = this.field(id, 1, name);
    return p < 0 ? def : this.fb.view.getUint8(p);
  }
  i8(id: number, name: string, def = 0): number {
    const p = this.field(id, 1, name);
    return p < 0 ? def : this.fb.view.getInt8(p);
  }
  bool(id: number, name: string, def = false): boolean {
    const p = this.field(id, 1, name);
    return p < 0 ? def : this.fb.view.getUint8(p) !== 0;
  }
  i32(id: number, name: string, def = 0): number {
    const p = this.field(id, 4, name);
    return p < 0 ? def : this.fb.view.getInt32(p, true);
  }
  u32(id: number, name: string, def = 0): number {
    const p = this.field(id, 4, name);
    return p < 0 ? def : this.fb.view.getUint32(p, true);
  }
  f32(id: number, name: string, def = 0): number {
    const p = this.field(id, 4, name);
    return p < 0 ? def : this.fb.view.getFloat32(p, true);
  }
  /** 64-bit integers as numbers; values beyond 2^53 are rejected rather than rounded. */
  u64(id: number, name: string, def = 0): number {
    const p = this.field(id, 8, name);
    return p < 0 ? def : this.safe(this.fb.view.getBigUint64(p, true), name);
  }

  table(id: number, name: string): Table | undefined {
    const p = this.field(id, 4, name);
    return p < 0 ? undefined : this.fb.tableAt(this.fb.follow(p, `${this.path}.${name}`), `${this.path}.${name}`);
  }

  string(id: number, name: string): string | undefined {
    const p = this.field(id, 4, name);
    return p < 0 ? undefined : this.fb.stringAt(p, `${this.path}.${name}`);
  }

  /** A [ubyte] vector as a view into the file (no copy). */
  bytes(id: number, name: string): Uint8Array | undefined {
    const p = this.field(id, 4, name);
    if (p < 0) return undefined;
    const { start, length } = this.fb.vectorAt(p, 1, `${this.path}.${name}`);
    this.fb.spend(1, name);
    return this.fb.bytes.subarray(start, start + length);
  }

  i32s(id: number, name: string): number[] | undefined {
    return this.scalars(id, name, 4, (at) => this.fb.view.getInt32(at, true));
  }
  f32s(id: number, name: string): number[] | undefined {
    return this.scalars(id, name, 4, (at) => this.fb.view.getFloat32(at, true));
  }
  i64s(id: number, name: string): number[] | undefined {
    return this.scalars(id, name, 8, (at) => this.safe(this.fb.view.getBigInt64(at, true), name));
  }

  strings(id: number, name: string): string[] | undefined {
    return this.scalars(id, name, 4, (at, i) => this.fb.stringAt(at, `${this.path}.${name}[${i}]`));
  }

  tables(id: number, name: string): Table[] | undefined {
    return this.scalars(id, name, 4, (at, i) =>
      this.fb.tableAt(this.fb.follow(at, `${this.path}.${name}[${i}]`), `${this.path}.${name}[${i}]`),
    );
  }

  private scalars<T>(id: number, name: string, size: number, read: (at: number, index: number) => T): T[] | undefined {
    const p = this.field(id, 4, name);
    if (p < 0) return undefined;
    const what = `${this.path}.${name}`;
    const { start, length } = this.fb.vectorAt(p, size, what);
    this.fb.spend(length, what);
    const out: T[] = [];
    for (let i = 0; i < length; i++) out.push(read(start + i * size, i));
    return out;
  }

  private safe(v: bigint, name: string): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER))
      this.fb.fail(`${this.path}.${name}: 64-bit value ${v} is out of range`);
    return Number(v);
  }
}
