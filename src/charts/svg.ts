/** Minimal dependency-free SVG charts: benchmark reports and training loss curves. */
export interface Series {
  name: string;
  color: string;
  points: [number, number][];
  line?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  logY?: boolean;
  /** Category labels for integer x positions (bar-like charts); otherwise numeric ticks. */
  xCategories?: string[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 900,
    H = o.height ?? 480;
  const m = { l: 70, r: 200, t: 40, b: o.xCategories ? 110 : 50 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => Number.isFinite(y) && (!o.logY || y > 0));
  const x0 = Math.min(...xs),
    x1 = Math.max(...xs);
  const fy = (y: number) => (o.logY ? Math.log10(y) : y);
  let y0 = Math.min(...ys.map(fy)),
    y1 = Math.max(...ys.map(fy));
  if (o.logY) {
    y0 = Math.floor(y0);
    y1 = Math.ceil(y1);
  } else {
    y0 = Math.min(0, y0);
    y1 = y1 * 1.05 || 1;
  }
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((fy(y) - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  parts.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  const yTicks = o.logY
    ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i))
    : Array.from({ length: 6 }, (_, i) => y0 + ((y1 - y0) * i) / 5);
  for (const t of yTicks) {
    const y = py(t);
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${+t.toPrecision(3)}</text>`,
    );
  }
  if (o.xCategories) {
    o.xCategories.forEach((c, i) =>
      parts.push(`<text transform="translate(${px(i)},${H - m.b + 10}) rotate(60)" font-size="10">${esc(c)}</text>`),
    );
  } else {
    for (let i = 0; i <= 5; i++) {
      const t = x0 + ((x1 - x0) * i) / 5;
      parts.push(`<text x="${px(t)}" y="${H - m.b + 18}" text-anchor="middle">${+t.toPrecision(3)}</text>`);
    }
  }
  parts.push(
    `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="black"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="black"/>`,
  );
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(16,${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]) && (!o.logY || p[1] > 0));
    if (s.line !== false)
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ')}"/>`,
      );
    for (const p of pts)
      parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${s.color}"/>`);
    parts.push(
      `<rect x="${W - m.r + 15}" y="${m.t + i * 20}" width="12" height="12" fill="${s.color}"/><text x="${W - m.r + 32}" y="${m.t + i * 20 + 10}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface Bar {
  label: string;
  value: number;
  color: string;
  /** Text drawn above the bar (defaults to the value). */
  text?: string;
}

/** Vertical bars with labels under them; log scale for values spanning decades. */
export function barChart(
  bars: Bar[],
  o: {
    title: string;
    yLabel: string;
    logY?: boolean;
    width?: number;
    height?: number;
    legend?: { name: string; color: string }[];
  },
): string {
  const W = o.width ?? Math.max(700, 300 + bars.length * 56),
    H = o.height ?? 440;
  const m = { l: 70, r: o.legend ? 220 : 20, t: 40, b: 110 };
  const values = bars.map((b) => b.value).filter((v) => Number.isFinite(v) && (!o.logY || v > 0));
  const f = (v: number) => (o.logY ? Math.log10(v) : v);
  const y0 = o.logY ? Math.floor(Math.log10(Math.min(...values))) : 0;
  const y1 = o.logY ? Math.ceil(Math.log10(Math.max(...values))) : Math.max(...values) * 1.1 || 1;
  const top = y1 === y0 ? y0 + 1 : y1;
  const py = (v: number) => H - m.b - ((f(v) - y0) / (top - y0)) * (H - m.t - m.b);
  const slot = (W - m.l - m.r) / Math.max(1, bars.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  parts.push(`<text x="10" y="22" font-size="15">${esc(o.title)}</text>`);
  const ticks = o.logY
    ? Array.from({ length: top - y0 + 1 }, (_, i) => 10 ** (y0 + i))
    : Array.from({ length: 6 }, (_, i) => (top * i) / 5);
  for (const t of ticks) {
    const y = py(t);
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${+t.toPrecision(3)}</text>`,
    );
  }
  bars.forEach((b, i) => {
    const x = m.l + i * slot + slot * 0.15;
    const w = slot * 0.7;
    const cx = x + w / 2;
    if (Number.isFinite(b.value) && (!o.logY || b.value > 0)) {
      const y = py(b.value);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${(H - m.b - y).toFixed(1)}" fill="${b.color}"/>`,
      );
      parts.push(
        `<text x="${cx.toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="10">${esc(b.text ?? String(+b.value.toPrecision(3)))}</text>`,
      );
    }
    parts.push(
      `<text transform="translate(${cx.toFixed(1)},${H - m.b + 12}) rotate(45)" font-size="10">${esc(b.label)}</text>`,
    );
  });
  parts.push(
    `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="black"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="black"/>`,
  );
  parts.push(
    `<text transform="translate(16,${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  (o.legend ?? []).forEach((l, i) => {
    parts.push(
      `<rect x="${W - m.r + 15}" y="${m.t + i * 20}" width="12" height="12" fill="${l.color}"/><text x="${W - m.r + 32}" y="${m.t + i * 20 + 10}">${esc(l.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
