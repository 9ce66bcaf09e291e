/** Precision-recall curves as one self-contained SVG: plot, grid, axes, legend and title, no scripts or fonts to fetch. */
import type { EvaluationResult } from './evaluate.ts';

export interface PrCurve {
  label: string;
  recall: readonly number[];
  precision: readonly number[];
}

export interface PrChartOptions {
  title?: string;
  /** Side of the square plot area in pixels, default 400. */
  plotSize?: number;
}

// Tableau 10: distinguishable and colour-blind aware; past ten curves the dash pattern tells them apart.
const COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];
const MARGIN = { left: 56, top: 44, bottom: 48, legendGap: 24, right: 16 };
const LEGEND_ROW = 16;
const LEGEND_WIDTH = 240;

export function prChartSvg(curves: readonly PrCurve[], options: PrChartOptions = {}): string {
  const size = options.plotSize ?? 400;
  const width = MARGIN.left + size + MARGIN.legendGap + LEGEND_WIDTH + MARGIN.right;
  const height = Math.max(MARGIN.top + size + MARGIN.bottom, MARGIN.top + curves.length * LEGEND_ROW + MARGIN.right);
  const px = (r: number) => MARGIN.left + r * size;
  const py = (p: number) => MARGIN.top + (1 - p) * size;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${px(0.5)}" y="${MARGIN.top / 2 + 4}" text-anchor="middle" font-size="14">${escapeXml(options.title ?? 'Precision-recall')}</text>`,
  ];
  for (let i = 0; i <= 10; i++) {
    const v = i / 10;
    const stroke = i % 5 === 0 ? '#bbb' : '#e6e6e6';
    out.push(
      `<line x1="${px(v)}" y1="${py(0)}" x2="${px(v)}" y2="${py(1)}" stroke="${stroke}"/>`,
      `<line x1="${px(0)}" y1="${py(v)}" x2="${px(1)}" y2="${py(v)}" stroke="${stroke}"/>`,
    );
    if (i % 2 === 0) {
      out.push(
        `<text x="${px(v)}" y="${py(0) + 16}" text-anchor="middle">${v.toFixed(1)}</text>`,
        `<text x="${px(0) - 6}" y="${py(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`,
      );
    }
  }
  out.push(
    `<rect x="${px(0)}" y="${py(1)}" width="${size}" height="${size}" fill="none" stroke="#333"/>`,
    `<text x="${px(0.5)}" y="${py(0) + 36}" text-anchor="middle">Recall</text>`,
    `<text transform="translate(${px(0) - 40} ${py(0.5)}) rotate(-90)" text-anchor="middle">Precision</text>`,
  );
  curves.forEach((c, k) => {
    const dash = DASHES[Math.floor(k / COLORS.length) % DASHES.length];
    const style = `stroke="${COLORS[k % COLORS.length]}"${dash ? ` stroke-dasharray="${dash}"` : ''}`;
    const points = polylinePoints(c.recall.map((r, i) => [round(px(r)), round(py(c.precision[i]!))] as const));
    if (points) out.push(`<polyline fill="none" stroke-width="1.5" ${style} points="${points}"/>`);
    const ly = MARGIN.top + k * LEGEND_ROW;
    const lx = px(1) + MARGIN.legendGap;
    out.push(
      `<line x1="${lx}" y1="${ly + 8}" x2="${lx + 20}" y2="${ly + 8}" stroke-width="2" ${style}/>`,
      `<text x="${lx + 26}" y="${ly + 12}">${escapeXml(c.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** One curve per shared class, legend "class (AP x%)", title with the VOC mAP. */
export function evaluationPrChart(result: EvaluationResult, options: Omit<PrChartOptions, 'title'> = {}): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  return prChartSvg(
    result.perClass.map((c) => ({
      label: `${c.className} (AP ${pct(c.ap)})`,
      recall: c.recall,
      precision: c.precision,
    })),
    {
      ...options,
      title: `Precision-recall at IoU ${result.iouThreshold}: mAP ${pct(result.mAP)} over ${result.perClass.length} classes`,
    },
  );
}

/**
 * A PR curve has a point per detection (tens of thousands at score >= 0.01), mostly runs along one
 * recall (precision falling) or repeats of a pixel: only the corners are drawn, so the file stays small
 * and the line is the same.
 */
function polylinePoints(points: readonly (readonly [number, number])[]): string {
  const kept: (readonly [number, number])[] = [];
  for (const p of points) {
    const last = kept.at(-1);
    if (last && last[0] === p[0] && last[1] === p[1]) continue;
    const prev = kept.at(-2);
    if (last && prev && ((prev[0] === last[0] && last[0] === p[0]) || (prev[1] === last[1] && last[1] === p[1])))
      kept[kept.length - 1] = p;
    else kept.push(p);
  }
  return kept.map(([x, y]) => `${x},${y}`).join(' ');
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}
