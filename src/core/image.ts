/** Decoded pixels as every layer passes them around: RGBA8, row-major, no padding. */
export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}
