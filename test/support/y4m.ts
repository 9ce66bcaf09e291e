/**
 * A picture as a one-frame Y4M video, for Chromium's fake camera (--use-file-for-fake-video-capture loops it):
 * a camera that films a real scene detects it with confident scores, where the built-in test pattern scores
 * ~0.1 and its near-tied classes swap between two equally valid YUV conversions.
 */
import { writeFileSync } from 'node:fs';
import type { RgbaImage } from '../../src/core/image.ts';

const clamp8 = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

/** I420 in full-range BT.601 ("C420jpeg"); odd sizes lose their last row or column. */
export function y4mFrame(image: RgbaImage): Uint8Array {
  const [w, h] = [image.width & ~1, image.height & ~1];
  const header = new TextEncoder().encode(`YUV4MPEG2 W${w} H${h} F30:1 Ip A1:1 C420jpeg\nFRAME\n`);
  const out = new Uint8Array(header.length + (w * h * 3) / 2);
  out.set(header);
  const [yPlane, uPlane, vPlane] = [header.length, header.length + w * h, header.length + (w * h * 5) / 4];
  const px = (x: number, y: number, c: number) => image.data[(y * image.width + x) * 4 + c]!;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[yPlane + y * w + x] = clamp8(0.299 * px(x, y, 0) + 0.587 * px(x, y, 1) + 0.114 * px(x, y, 2));
    }
  }
  for (let y = 0; y < h / 2; y++) {
    for (let x = 0; x < w / 2; x++) {
      const mean = (c: number) =>
        (px(2 * x, 2 * y, c) + px(2 * x + 1, 2 * y, c) + px(2 * x, 2 * y + 1, c) + px(2 * x + 1, 2 * y + 1, c)) / 4;
      const [r, g, b] = [mean(0), mean(1), mean(2)];
      out[uPlane + y * (w / 2) + x] = clamp8(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      out[vPlane + y * (w / 2) + x] = clamp8(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }
  return out;
}

export function writeY4m(image: RgbaImage, path: string): void {
  writeFileSync(path, y4mFrame(image));
}
