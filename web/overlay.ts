/**
 * Boxes, labels and scores drawn with canvas 2D on a transparent canvas laid over the picture. The
 * canvas has the picture's own pixel size and CSS scales both alike, so boxes stay in source pixels.
 */
import type { Detection } from '../src/browser.ts';
import { classColor, textColorOn, type Rgb } from '../src/image/draw.ts';

const css = (c: Rgb) => `rgb(${c[0]} ${c[1]} ${c[2]})`;

export function drawDetections(
  canvas: HTMLCanvasElement,
  width: number,
  height: number,
  detections: readonly Detection[],
): void {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const g = canvas.getContext('2d')!;
  g.clearRect(0, 0, width, height);
  const side = Math.min(width, height);
  const line = Math.max(2, Math.round(side / 200));
  const fontPx = Math.max(12, Math.round(side / 28));
  g.font = `600 ${fontPx}px system-ui, sans-serif`;
  g.textBaseline = 'top';
  // Lowest score first, so the strongest detection's tag ends up on top.
  for (const d of [...detections].reverse()) {
    const color = classColor(d.classId);
    const { x, y, width: w, height: h } = d.box;
    g.lineWidth = line;
    g.strokeStyle = css(color);
    g.strokeRect(x, y, w, h);
    const text = `${d.label} ${d.score.toFixed(2)}`;
    const pad = Math.round(fontPx / 4);
    const tagW = g.measureText(text).width + 2 * pad;
    const tagH = fontPx + 2 * pad;
    // Above the box when there is room, else just inside its top edge.
    const tagX = Math.min(Math.max(0, x - line / 2), width - tagW);
    const tagY = y - tagH >= 0 ? y - tagH : Math.max(0, y);
    g.fillStyle = css(color);
    g.fillRect(tagX, tagY, tagW, tagH);
    g.fillStyle = css(textColorOn(color));
    g.fillText(text, tagX + pad, tagY + pad);
  }
}
