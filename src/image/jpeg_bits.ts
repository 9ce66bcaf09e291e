/**
 * The entropy-coded bit stream of a JPEG scan and its Huffman codes (ITU T.81 annex C and F.2.2).
 * Bits are read most significant first; a stuffed 0xFF00 is one 0xFF data byte; any other marker ends
 * the data, and reading past it is an error (the scan's data ran out before the image did).
 */

/** A failure inside the pixel data: `truncated` when the data ended before the image did. */
export class JpegDataError extends Error {
  constructor(
    message: string,
    readonly truncated = false,
  ) {
    super(message);
  }
}

/** A canonical Huffman code: `lookup` decodes codes of up to LOOKUP_BITS bits in one step. */
export interface HuffmanTable {
  /** (length << 8) | value for every LOOKUP_BITS-bit prefix that starts with a short code, else 0. */
  lookup: Uint16Array;
  /** Largest code of each length 1..16 (-1 if none), first code of each length, and its index into `values`. */
  maxCode: Int32Array;
  minCode: Int32Array;
  firstIndex: Int32Array;
  values: Uint8Array;
}

const LOOKUP_BITS = 9;

/**
 * Builds the code from the 16 counts of codes per length and the values in code order. A code of all
 * one bits is refused, as libjpeg and jpeg-js refuse it (it would let a fill of 1-bits decode as data).
 */
export function buildHuffmanTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const maxCode = new Int32Array(17).fill(-1);
  const minCode = new Int32Array(17);
  const firstIndex = new Int32Array(17);
  const lookup = new Uint16Array(1 << LOOKUP_BITS);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    const n = counts[length - 1]!;
    if (n > 0) {
      if (code + n > (1 << length) - 1)
        throw new JpegDataError(`a Huffman table has more codes of length ${length} than fit`);
      minCode[length] = code;
      firstIndex[length] = k;
      for (let i = 0; i < n; i++, code++, k++) {
        if (length > LOOKUP_BITS) continue;
        const shift = LOOKUP_BITS - length;
        for (let fill = 0; fill < 1 << shift; fill++) lookup[(code << shift) | fill] = (length << 8) | values[k]!;
      }
      maxCode[length] = code - 1;
    }
    code <<= 1;
  }
  return { lookup, maxCode, minCode, firstIndex, values };
}

export class BitReader {
  /** Unread bits are the low `count` bits of `buffer`. */
  private buffer = 0;
  private count = 0;

  constructor(
    private readonly data: Uint8Array,
    /** The next byte to load. */
    public pos: number,
    /** The declared size, e.g. '640x480', for the error when the data runs out. */
    private readonly size: string,
  ) {}

  /** Loads whole bytes until 25+ bits are buffered or a marker (or the end of the file) is next. */
  private fill(): void {
    const d = this.data;
    while (this.count <= 24) {
      if (this.pos >= d.length) return;
      const b = d[this.pos]!;
      if (b === 0xff) {
        if (d[this.pos + 1] !== 0) return;
        this.pos += 2;
      } else this.pos++;
      this.buffer = (this.buffer << 8) | b;
      this.count += 8;
    }
  }

  private ranOut(): JpegDataError {
    const marker = this.data[this.pos + 1];
    if (this.pos >= this.data.length || marker === 0xd9)
      return new JpegDataError(
        `the image data ends (end-of-image marker) before the ${this.size} pixels its header declares`,
        true,
      );
    return new JpegDataError(`unexpected marker 0xff${marker!.toString(16)} inside the image data`);
  }

  bit(): number {
    if (this.count === 0) {
      this.fill();
      if (this.count === 0) throw this.ranOut();
    }
    return (this.buffer >>> --this.count) & 1;
  }

  /** `length` bits as an unsigned number. Lengths over 16 only occur in corrupt data; they are read bit by bit. */
  bits(length: number): number {
    if (length > 16) {
      let n = 0;
      for (let i = 0; i < length; i++) n = (n << 1) | this.bit();
      return n;
    }
    if (this.count < length) {
      this.fill();
      if (this.count < length) throw this.ranOut();
    }
    this.count -= length;
    return (this.buffer >>> this.count) & ((1 << length) - 1);
  }

  /** T.81 F.2.2.1 EXTEND: `length` bits as a signed coefficient difference. */
  signed(length: number): number {
    const n = this.bits(length);
    return n >= 1 << (length - 1) ? n : n + (-1 << length) + 1;
  }

  decode(t: HuffmanTable): number {
    if (this.count < LOOKUP_BITS) this.fill();
    if (this.count >= LOOKUP_BITS) {
      const e = t.lookup[(this.buffer >>> (this.count - LOOKUP_BITS)) & ((1 << LOOKUP_BITS) - 1)]!;
      if (e !== 0) {
        this.count -= e >> 8;
        return e & 0xff;
      }
    }
    let code = 0;
    for (let length = 1; length <= 16; length++) {
      code = (code << 1) | this.bit();
      if (code <= t.maxCode[length]!) return t.values[t.firstIndex[length]! + code - t.minCode[length]!]!;
    }
    throw new JpegDataError('invalid Huffman code in the image data');
  }

  /**
   * At a restart interval's end: drops the partial byte and returns the marker that follows (the data must
   * end exactly there), leaving the reader after it; undefined if no marker is there.
   */
  marker(): number | undefined {
    const whole = this.count >= 8;
    this.buffer = 0;
    this.count = 0;
    if (whole || this.data[this.pos] !== 0xff) return undefined;
    const m = this.data[this.pos + 1]!;
    this.pos += 2;
    return m;
  }
}
