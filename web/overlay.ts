/**
 * Boxes, labels, scores and keypoints drawn with canvas 2D on a transparent canvas laid over the picture. The
 * canvas has the size the picture is displayed at (in device pixels), not the picture's own, so
 * lines and labels keep a readable size on a phone as on a desktop; it redraws when that size changes.
 */
import type { Detection } from '../src/browser.ts';
import { classColor, textColorOn, type Rgb } from '../src/image/draw.ts';

const css = (c: Rgb) => `rgb(${c[0]} ${c[1]} ${c[2]})`;
/** Label text height, padding and line width in CSS pixels. */
const FONT_PX = 14;
const PAD_PX = 3;
const LINE_PX = 2;

export class Overlay {
  private shown: { width: number; height: number; detections: readonly Detection[] } | undefined;

  constructor(private readonly canvas: HTMLCanvasElement) {
    new ResizeObserver(() => this.redraw()).observe(canvas);
  }

  /** Shows `detections`, whose boxes are in the pixels of a `width` x `height` picture. */
  draw(width: number, height: number, detections: readonly Detection[]): void {
    this.shown = { width, height, detections };
    this.redraw();
  }

  clear(): void {
    this.shown = undefined;
    this.redraw();
  }

  private redraw(): void {
    const c = this.canvas;
    const dpr = devicePixelRatio || 1;
    const [w, h] = [Math.round(c.clientWidth * dpr), Math.round(c.clientHeight * dpr)];
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    const g = c.getContext('2d')!;
    g.clearRect(0, 0, w, h);
    if (!this.shown || !w || !h) return;
    // The picture is fitted into the canvas like object-fit: contain.
    const s = Math.min(w / this.shown.width, h / this.shown.height);
    const [ox, oy] = [(w - this.shown.width * s) / 2, (h - this.shown.height * s) / 2];
    const [fontPx, pad, line] = [FONT_PX * dpr, Math.round(PAD_PX * dpr), Math.max(1, Math.round(LINE_PX * dpr))];
    g.font = `600 ${fontPx}px system-ui, sans-serif`;
    g.textBaseline = 'top';
    // Lowest score first, so the strongest detection's tag ends up on top.
    for (const d of [...this.shown.detections].reverse()) {
      const color = classColor(d.classId);
      const [x, y] = [Math.round(ox + d.box.x * s), Math.round(oy + d.box.y * s)];
      g.lineWidth = line;
      g.strokeStyle = css(color);
      g.strokeRect(x, y, Math.round(d.box.width * s), Math.round(d.box.height * s));
      // Keypoints (BlazeFace's eyes, nose, mouth, ears): dots in the class colour, ringed for contrast.
      for (const k of d.keypoints ?? []) {
        g.beginPath();
        g.arc(ox + k.x * s, oy + k.y * s, 2.5 * line, 0, 2 * Math.PI);
        g.fillStyle = css(color);
        g.fill();
        g.strokeStyle = css(textColorOn(color));
        g.lineWidth = Math.max(1, line / 2);
        g.stroke();
      }
      g.lineWidth = line;
      const text = `${d.label} ${d.score.toFixed(2)}`;
      const tagW = Math.ceil(g.measureText(text).width) + 2 * pad;
      const tagH = Math.round(fontPx) + 2 * pad;
      // Above the box when there is room, else just inside its top edge.
      const tagX = Math.max(0, Math.min(x - Math.round(line / 2), w - tagW));
      const tagY = y - tagH >= 0 ? y - tagH : Math.max(0, y);
      g.fillStyle = css(color);
      g.fillRect(tagX, tagY, tagW, tagH);
      g.fillStyle = css(textColorOn(color));
      g.fillText(text, tagX + pad, tagY + pad);
    }
  }
}
