/** Decoded RGBA pixels as a FrameSource: uploaded with queue.writeTexture. */
import type { FrameSource } from './detector.ts';
import type { RgbaImage } from '../core/image.ts';

export function rgbaFrame(img: RgbaImage): FrameSource {
  return {
    width: img.width,
    height: img.height,
    upload(ctx, texture) {
      // Dawn rejects views on a SharedArrayBuffer; copy those into a plain ArrayBuffer.
      const data =
        img.data.buffer instanceof ArrayBuffer ? (img.data as Uint8Array<ArrayBuffer>) : new Uint8Array(img.data);
      ctx.queue.writeTexture({ texture }, data, { bytesPerRow: img.width * 4, rowsPerImage: img.height }, [
        img.width,
        img.height,
      ]);
    },
  };
}
