/** RGBA8 to PNG bytes (Node, via pngjs), e.g. for the CLI's annotated output images. */
import { PNG } from 'pngjs';
import type { RgbaImage } from '../core/image.ts';
import { toRgbaImage } from './rgba.ts';

export function encodePng(image: RgbaImage): Uint8Array {
  const img = toRgbaImage(image, 'image to encode');
  // Constructed without a size so pngjs does not allocate a pixel buffer that is replaced anyway.
  const png = new PNG();
  png.width = img.width;
  png.height = img.height;
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  const bytes = PNG.sync.write(png, { colorType: 6, inputColorType: 6, bitDepth: 8 });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
