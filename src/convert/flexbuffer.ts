/**
 * A minimal, bounds-checked FlexBuffers reader: enough for TFLite custom operator options (a root
 * map of numbers, booleans and strings), plus vectors and blobs so that any well-formed options
 * decode. Values are located backwards from the end of the buffer; every offset and size is
 * checked before use and nesting and total work are capped, so hostile bytes give a
 * TfliteFormatError, never a crash or a hang.
 */
import { TfliteFormatError } from '../errors.ts';

export type FlexValue = null | boolean | number | string | Uint8Array | FlexValue[] | FlexMap;
export interface FlexMap {
  [key: string]: FlexValue;
}

/** Type codes of the FlexBuffers wire format (upper 6 bits of a packed type byte). */
const T = {
  NULL: 0,
  INT: 1,
  UINT: 2,
  FLOAT: 3,
  KEY: 4,
  STRING: 5,
  INDIRECT_INT: 6,
  INDIRECT_UINT: 7,
  INDIRECT_FLOAT: 8,
  MAP: 9,
  VECTOR: 10,
  VECTOR_INT: 11,
  VECTOR_UINT: 12,
  VECTOR_FLOAT: 13,
  VECTOR_KEY: 14,
  VECTOR_INT2: 16,
  VECTOR_FLOAT4: 24,
  BLOB: 25,
  BOOL: 26,
  VECTOR_BOOL: 36,
} as const;

const MAX_DEPTH = 32;
const utf8 = new TextDecoder('utf-8');

/** Decodes a FlexBuffer whose root is a map (TFLite custom options). */
export function readFlexMap(bytes: Uint8Array, file: string, what = 'custom options'): FlexMap {
  const root = new FlexReader(bytes, file, what).root();
  if (root === null || typeof root !== 'object' || Array.isArray(root) || root instanceof Uint8Array) {
    throw new TfliteFormatError(file, `${what}: the root value is not a map`);
  }
  return root;
}

class FlexReader {
  private readonly view: DataView;
  private work: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.work = 1024 + 4 * bytes.byteLength;
  }

  root(): FlexValue {
    const n = this.bytes.byteLength;
    if (n < 3) this.fail(`${n} bytes are too few for a FlexBuffer`);
    const width = this.bytes[n - 1]!;
    if (width !== 1 && width !== 2 && width !== 4 && width !== 8) this.fail(`invalid root width ${width}`);
    return this.value(n - 2 - width, width, this.bytes[n - 2]!, 0);
  }

  private fail(problem: string): never {
    throw new TfliteFormatError(this.file, `${this.what}: ${problem}`);
  }

  private check(pos: number, size: number): void {
    if (!(pos >= 0 && size >= 0 && pos + size <= this.bytes.byteLength)) {
      this.fail(`reference to bytes ${pos}..${pos + size} outside the ${this.bytes.byteLength}-byte buffer`);
    }
  }

  private spend(n: number): void {
    this.work -= n;
    if (this.work < 0) this.fail('decoding would read far more data than the buffer holds');
  }

  private uint(pos: number, width: number): number {
    this.check(pos, width);
    switch (width) {
      case 1:
        return this.view.getUint8(pos);
      case 2:
        return this.view.getUint16(pos, true);
      case 4:
        return this.view.getUint32(pos, true);
      case 8:
        return this.safe(this.view.getBigUint64(pos, true));
      default:
        return this.fail(`invalid width ${width}`);
    }
  }

  private int(pos: number, width: number): number {
    this.check(pos, width);
    switch (width) {
      case 1:
        return this.view.getInt8(pos);
      case 2:
        return this.view.getInt16(pos, true);
      case 4:
        return this.view.getInt32(pos, true);
      case 8:
        return this.safe(this.view.getBigInt64(pos, true));
      default:
        return this.fail(`invalid width ${width}`);
    }
  }

  private float(pos: number, width: number): number {
    this.check(pos, width);
    if (width === 4) return this.view.getFloat32(pos, true);
    if (width === 8) return this.view.getFloat64(pos, true);
    return this.fail(`invalid float width ${width}`);
  }

  private safe(v: bigint): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER))
      this.fail(`64-bit value ${v} is out of range`);
    return Number(v);
  }

  /** Offsets in FlexBuffers point backwards from where they are stored. */
  private indirect(pos: number, width: number): number {
    const target = pos - this.uint(pos, width);
    this.check(target, 0);
    return target;
  }

  /** Elements of a sized container at `at` (count stored just before it), with `extra` bytes per element after. */
  private sized(at: number, width: number, extra: number): number {
    const count = this.uint(at - width, width);
    if (count * (width + extra) > this.bytes.byteLength - at)
      this.fail(`container at byte ${at} declares ${count} elements, more than the buffer holds`);
    this.spend(count + 1);
    return count;
  }

  private value(pos: number, parentWidth: number, packed: number, depth: number): FlexValue {
    if (depth > MAX_DEPTH) this.fail('values nested too deeply');
    this.spend(1);
    const type = packed >> 2;
    const width = 1 << (packed & 3);
    switch (type) {
      case T.NULL:
        return null;
      case T.INT:
        return this.int(pos, parentWidth);
      case T.UINT:
        return this.uint(pos, parentWidth);
      case T.FLOAT:
        return this.float(pos, parentWidth);
      case T.BOOL:
        return this.uint(pos, parentWidth) !== 0;
      case T.INDIRECT_INT:
        return this.int(this.indirect(pos, parentWidth), width);
      case T.INDIRECT_UINT:
        return this.uint(this.indirect(pos, parentWidth), width);
      case T.INDIRECT_FLOAT:
        return this.float(this.indirect(pos, parentWidth), width);
      case T.KEY:
        return this.key(this.indirect(pos, parentWidth));
      case T.STRING: {
        const at = this.indirect(pos, parentWidth);
        const n = this.sized(at, width, 0);
        return utf8.decode(this.bytes.subarray(at, at + n));
      }
      case T.BLOB: {
        const at = this.indirect(pos, parentWidth);
        const n = this.sized(at, width, 0);
        return this.bytes.subarray(at, at + n);
      }
      case T.MAP:
        return this.map(this.indirect(pos, parentWidth), width, depth);
      case T.VECTOR: {
        const at = this.indirect(pos, parentWidth);
        const n = this.sized(at, width, 1);
        return Array.from({ length: n }, (_, i) =>
          this.value(at + i * width, width, this.bytes[at + n * width + i]!, depth + 1),
        );
      }
      case T.VECTOR_INT:
      case T.VECTOR_UINT:
      case T.VECTOR_FLOAT:
      case T.VECTOR_KEY:
      case T.VECTOR_BOOL: {
        const at = this.indirect(pos, parentWidth);
        const n = this.sized(at, width, 0);
        const element = type === T.VECTOR_BOOL ? T.BOOL : type - T.VECTOR_INT + T.INT;
        return Array.from({ length: n }, (_, i) => this.value(at + i * width, width, element << 2, depth + 1));
      }
      default:
        if (type >= T.VECTOR_INT2 && type <= T.VECTOR_FLOAT4) {
          // Fixed-length typed vectors (2, 3 or 4 ints, uints or floats) carry no count.
          const at = this.indirect(pos, parentWidth);
          const n = 2 + Math.floor((type - T.VECTOR_INT2) / 3);
          const element = T.INT + ((type - T.VECTOR_INT2) % 3);
          this.check(at, n * width);
          return Array.from({ length: n }, (_, i) => this.value(at + i * width, width, element << 2, depth + 1));
        }
        return this.fail(`unknown value type ${type} at byte ${pos}`);
    }
  }

  private key(at: number): string {
    const end = this.bytes.indexOf(0, at);
    if (end < 0) this.fail(`key at byte ${at} is not terminated`);
    this.spend(end - at);
    return utf8.decode(this.bytes.subarray(at, end));
  }

  private map(at: number, width: number, depth: number): FlexMap {
    const n = this.sized(at, width, 1);
    const keysAt = this.indirect(at - 3 * width, width);
    const keyWidth = this.uint(at - 2 * width, width);
    if (keyWidth !== 1 && keyWidth !== 2 && keyWidth !== 4 && keyWidth !== 8)
      this.fail(`map at byte ${at} has invalid key width ${keyWidth}`);
    if (this.sized(keysAt, keyWidth, 0) !== n) this.fail(`map at byte ${at} has a different number of keys and values`);
    // A null prototype keeps keys such as "__proto__" ordinary properties.
    const out: FlexMap = Object.create(null) as FlexMap;
    for (let i = 0; i < n; i++) {
      const k = this.key(this.indirect(keysAt + i * keyWidth, keyWidth));
      out[k] = this.value(at + i * width, width, this.bytes[at + n * width + i]!, depth + 1);
    }
    return out;
  }
}
