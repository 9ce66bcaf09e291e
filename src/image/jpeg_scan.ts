/**
 * Decoding one scan's entropy-coded data into quantised DCT coefficients (T.81 annex F and G): baseline and
 * extended sequential blocks, and the four progressive passes (DC first and refinement, AC first and
 * refinement). The control flow follows jpeg-js where it decides which bits are read (restart intervals,
 * end-of-band runs), so that valid files decode to the same coefficients. One difference: jpeg-js goes on
 * decoding a one-component scan's last restart interval past the image's last block, into the blocks of
 * the MCU padding, and so fails on progressive files with restart intervals whose component sizes are not
 * whole MCUs (reading past the scan's data); here the scan ends at its last block, as T.81 says.
 */
import { BitReader, JpegDataError, type HuffmanTable } from './jpeg_bits.ts';
import { ZIGZAG } from './jpeg_idct.ts';

export interface ScanComponent {
  h: number;
  v: number;
  /** Blocks that hold image samples, and the blocks the MCU grid codes (a multiple of h and v). */
  blocksPerLine: number;
  blocksPerColumn: number;
  paddedLine: number;
  paddedColumn: number;
  dc: HuffmanTable | undefined;
  ac: HuffmanTable | undefined;
  pred: number;
}

/** Where the scan puts a block: the caller returns the coefficient array and the block's offset in it. */
export interface BlockSink<C extends ScanComponent> {
  /** Called before the first block of each MCU row (block row, for a one-component scan). */
  startRow(row: number): void;
  coefficients(c: C): Int16Array | Int32Array;
  offset(c: C, blockRow: number, blockCol: number): number;
}

export interface ScanParams {
  /** Spectral selection and successive approximation (Ss, Se, Ah, Al). */
  start: number;
  end: number;
  high: number;
  low: number;
  progressive: boolean;
  restartInterval: number;
  mcusPerLine: number;
  mcusPerColumn: number;
  /** The frame's declared size, 'WxH', for errors. */
  size: string;
}

type Coefs = Int16Array | Int32Array;

/** Decodes the scan whose entropy-coded data starts at `pos`, handing each block to `sink`. */
export function decodeScan<C extends ScanComponent>(
  data: Uint8Array,
  pos: number,
  comps: C[],
  p: ScanParams,
  sink: BlockSink<C>,
): void {
  const bits = new BitReader(data, pos, p.size);
  const decode = blockDecoder(bits, p);
  const single = comps.length === 1;
  const first = comps[0]!;
  const expected = single ? first.blocksPerLine * first.blocksPerColumn : p.mcusPerLine * p.mcusPerColumn;
  const perLine = single ? first.blocksPerLine : p.mcusPerLine;
  const interval = p.restartInterval || expected;
  let mcu = 0;
  let row = -1;
  while (mcu < expected) {
    for (const c of comps) c.pred = 0;
    decode.reset();
    for (let n = 0; n < interval && mcu < expected; n++, mcu++) {
      const mcuRow = Math.floor(mcu / perLine);
      const mcuCol = mcu % perLine;
      if (mcuRow !== row) sink.startRow((row = mcuRow));
      for (const c of comps) {
        const coefs = sink.coefficients(c);
        // One component is coded block by block (its MCU is one block), several by MCUs of h x v blocks each.
        const h = single ? 1 : c.h,
          v = single ? 1 : c.v;
        for (let j = 0; j < v; j++)
          for (let i = 0; i < h; i++) decode.block(c, coefs, sink.offset(c, mcuRow * v + j, mcuCol * h + i));
      }
    }
    if (mcu === expected) break;
    const marker = bits.marker();
    if (marker === undefined) throw new JpegDataError('a restart marker is missing at the end of a restart interval');
    if (marker < 0xd0 || marker > 0xd7)
      throw new JpegDataError(
        `the image data ends after ${mcu} of its ${expected} ${single ? 'blocks' : 'MCUs'}`,
        marker === 0xd9,
      );
  }
}

interface BlockDecoder {
  block(c: ScanComponent, z: Coefs, at: number): void;
  /** At a restart: the end-of-band run starts again. */
  reset(): void;
}

function blockDecoder(bits: BitReader, p: ScanParams): BlockDecoder {
  const { start, end, low } = p;
  let eobrun = 0;
  const table = (t: HuffmanTable | undefined, kind: string): HuffmanTable => {
    if (!t) throw new JpegDataError(`a scan uses a ${kind} Huffman table that is not defined`);
    return t;
  };
  const reset = () => {
    eobrun = 0;
  };

  if (!p.progressive) {
    return {
      reset,
      block(c, z, at) {
        const t = bits.decode(table(c.dc, 'DC'));
        z[at] = c.pred += t === 0 ? 0 : bits.signed(t);
        const ac = table(c.ac, 'AC');
        for (let k = 1; k < 64;) {
          const rs = bits.decode(ac);
          const s = rs & 15,
            r = rs >> 4;
          if (s === 0) {
            if (r < 15) break;
            k += 16;
            continue;
          }
          k += r;
          const value = bits.signed(s);
          if (k < 64) z[at + ZIGZAG[k]!] = value; // a run past the block's end is dropped, as jpeg-js does
          k++;
        }
      },
    };
  }
  if (start === 0 && p.high === 0) {
    return {
      reset,
      block(c, z, at) {
        const t = bits.decode(table(c.dc, 'DC'));
        z[at] = c.pred += t === 0 ? 0 : bits.signed(t) << low;
      },
    };
  }
  if (start === 0) {
    return {
      reset,
      block(_c, z, at) {
        z[at] = z[at]! | (bits.bit() << low);
      },
    };
  }
  if (p.high === 0) {
    return {
      reset,
      block(c, z, at) {
        if (eobrun > 0) {
          eobrun--;
          return;
        }
        const ac = table(c.ac, 'AC');
        for (let k = start; k <= end;) {
          const rs = bits.decode(ac);
          const s = rs & 15,
            r = rs >> 4;
          if (s === 0) {
            if (r < 15) {
              eobrun = bits.bits(r) + (1 << r) - 1;
              break;
            }
            k += 16;
            continue;
          }
          k += r;
          const value = bits.signed(s) * (1 << low);
          if (k < 64) z[at + ZIGZAG[k]!] = value;
          k++;
        }
      },
    };
  }
  return refineAc(bits, p, table, {
    get: () => eobrun,
    set: (v: number) => {
      eobrun = v;
    },
    reset,
  });
}

/**
 * AC refinement (T.81 G.1.2.3): each coefficient already non-zero takes one correction bit; zero ones are
 * skipped by the coded run and the next one becomes +-1 << Al. The state machine carries across blocks
 * (an end-of-band run refines the following blocks' non-zero coefficients), and, as in jpeg-js, a restart
 * resets the run but not the state.
 */
function refineAc(
  bits: BitReader,
  p: ScanParams,
  table: (t: HuffmanTable | undefined, kind: string) => HuffmanTable,
  run: { get(): number; set(v: number): void; reset(): void },
): BlockDecoder {
  const { start, end, low } = p;
  const SCAN = 0,
    SKIP = 1,
    SKIP_THEN_SET = 2,
    SET = 3,
    EOB = 4;
  let state = SCAN;
  let pending = 0;
  return {
    reset: run.reset,
    block(c, z, at) {
      let r = 0;
      for (let k = start; k <= end;) {
        const zi = at + ZIGZAG[k]!;
        const coef = k < 64 ? z[zi]! : 0;
        const direction = coef < 0 ? -1 : 1;
        if (state === SCAN) {
          const rs = bits.decode(table(c.ac, 'AC'));
          const s = rs & 15;
          r = rs >> 4;
          if (s === 0) {
            if (r < 15) {
              run.set(bits.bits(r) + (1 << r));
              state = EOB;
            } else {
              r = 16;
              state = SKIP;
            }
          } else {
            if (s !== 1) throw new JpegDataError('invalid AC refinement code in the image data');
            pending = bits.signed(s);
            state = r ? SKIP_THEN_SET : SET;
          }
          continue;
        }
        if (coef) {
          if (k < 64) z[zi] = coef + (bits.bit() << low) * direction;
        } else if (state === SKIP || state === SKIP_THEN_SET) {
          if (--r === 0) state = state === SKIP_THEN_SET ? SET : SCAN;
        } else if (state === SET) {
          if (k < 64) z[zi] = pending << low;
          state = SCAN;
        }
        k++;
      }
      if (state === EOB) {
        run.set(run.get() - 1);
        if (run.get() === 0) state = SCAN;
      }
    },
  };
}
