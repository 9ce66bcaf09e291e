/** results/peers_<driver>.md (one table per network, ratios against mobilessd's row) and the bar chart. */
import { barChart, type Bar } from '../../src/charts/svg.ts';
import type { BackboneInfo } from './backbone.ts';
import { isRecord, type PeerModel, type PeerRecord, type PeerResult } from './record.ts';

export interface RunInfo {
  machine: string;
  loadAverage: string;
  driver: string;
  runsLine: string;
  quick: boolean;
  only: string[] | undefined;
  backbone: BackboneInfo | { failed: string };
  referenceIds: Set<string>;
  wallSeconds: number;
  /** Per-phase time budget, s. */
  budgetS?: number;
}

const SECTION_COLORS: Record<PeerModel, string> = { face: '#1f77b4', oid: '#2ca02c', backbone: '#d62728' };

function sectionTitle(model: PeerModel, run: RunInfo): string {
  if (model === 'face') return 'face-api SSD-MobileNetV1, 512x512 (face detector; 3.14 G multiply-adds)';
  if (model === 'oid')
    return 'Open Images V4 SSD-MobileNetV2, 300x300 (.tflite from @mediapipe/objectron; 0.67 G multiply-adds)';
  const b = run.backbone;
  if ('failed' in b) return `Our network through ONNX Runtime (not prepared: ${b.failed})`;
  const standIn = b.source === 'synthetic' ? ' (SYNTHETIC stand-in: figures mean nothing)' : '';
  return `Our ${b.name} network as ONNX, ${b.preprocess.width}x${b.preprocess.height}, whole network to its raw outputs (${b.gmacs.toFixed(2)} G multiply-adds)${standIn}`;
}

function ms(v: number): string {
  if (v >= 10000) return `${(v / 1000).toFixed(1)} s`;
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

const ips = (v: number | null) => (v === null ? 'n/a' : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const mib = (b: number | null) => (b === null ? 'n/a' : `${(b / 2 ** 20).toFixed(0)} MiB`);

function table(records: PeerResult[], reference: PeerRecord | undefined): string[] {
  const head = [
    'engine',
    'backend (verified)',
    'adapter',
    'cold start ms',
    'median ms',
    'p90 ms',
    'runs',
    'img/s batch 1',
    'img/s batch 8',
    'batch 8 mode',
    'peak RSS',
    'engine memory',
    'check',
  ];
  if (reference) head.push('median / mobilessd');
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of records) {
    if (!isRecord(r)) {
      out.push(
        `| ${r.engine} | **${r.skipped ? 'skipped' : 'failed'}**: ${r.reason.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |${' |'.repeat(head.length - 2)}`,
      );
      continue;
    }
    const row = [
      r.engine,
      r.backend,
      r.adapter,
      ms(r.coldStartMs),
      ms(r.latency.medianMs),
      ms(r.latency.p90Ms),
      String(r.latency.runs),
      ips(r.throughput.batch1),
      ips(r.throughput.batch8),
      r.throughput.batch8Mode,
      `${r.peakRssMB.toFixed(0)} MiB`,
      mib(r.memoryBytes),
      r.check,
    ];
    if (reference)
      row.push(r === reference ? '1 (reference)' : `${(r.latency.medianMs / reference.latency.medianMs).toFixed(2)}x`);
    out.push(`| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  return out;
}

function details(records: PeerResult[]): string[] {
  const out: string[] = [];
  for (const r of records.filter(isRecord)) {
    out.push(
      `- **${r.engine}** (\`${r.id}\`): timed = ${r.timed}. Peak RSS: ${r.rssScope}. Engine memory: ${r.memoryNote}.`,
    );
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out;
}

export function peersMarkdown(results: PeerResult[], run: RunInfo): string {
  const md = [
    '# mobilessd and its peers, measured on one machine in one run',
    '',
    `Machine: ${run.machine}. Load average when the run started: ${run.loadAverage} (other work on the machine shifts every figure).`,
    `WebGPU driver for the Node rows: **${run.driver}**; Chromium rows use Chromium's SwiftShader adapter. ${run.runsLine}`,
    `Each row is measured in its own child process, one at a time; total ${run.wallSeconds.toFixed(0)} s.${run.quick ? ' **Quick mode** (few runs, small time budget): for development, not for quoting.' : ''}${run.only ? ` Only: ${run.only.join(', ')}.` : ''}`,
    '',
    'Cold start = load + compile + first result, from before the engine code is imported (in Chromium: before its scripts load; the browser launch is not counted). Median and p90 over warm single-image runs; img/s batch 1 = those runs back to back. Peak RSS comes from a process that ran only this row.',
    '',
  ];
  for (const model of ['face', 'oid', 'backbone'] as const) {
    const rows = results.filter((r) => r.model === model);
    if (!rows.length) continue;
    const reference = rows.filter(isRecord).find((r) => run.referenceIds.has(r.id));
    md.push(`## ${sectionTitle(model, run)}`, '', ...table(rows, reference), '', ...details(rows), '');
  }
  const versions = new Map<string, Set<string>>();
  for (const r of results.filter(isRecord))
    for (const [k, v] of Object.entries(r.versions)) versions.set(k, (versions.get(k) ?? new Set()).add(v));
  md.push(
    '## Versions',
    '',
    '| package | version |',
    '|---|---|',
    ...[...versions].sort().map(([k, v]) => `| ${k} | ${[...v].join(', ')} |`),
    '',
  );
  return md.join('\n');
}

export function peersSvg(results: PeerResult[], run: RunInfo): string {
  const bars: Bar[] = results.filter(isRecord).map((r) => ({
    label: r.id,
    value: r.latency.medianMs,
    color: SECTION_COLORS[r.model],
    text: ms(r.latency.medianMs),
  }));
  const legend = (['face', 'oid', 'backbone'] as const)
    .filter((m) => results.some((r) => r.model === m))
    .map((m) => ({
      name: { face: 'face SSD-MobileNetV1 512', oid: 'OID SSD-MobileNetV2 300', backbone: 'network via ONNX' }[m],
      color: SECTION_COLORS[m],
    }));
  return barChart(bars, {
    title: `Median latency per image, ms (log scale; ${run.driver} for Node WebGPU rows)`,
    yLabel: 'ms (log)',
    logY: true,
    legend,
  });
}

/** results/peers_batch_<driver>.md: images/s per batch size for every row that ran the --batches sweep. */
export function batchMarkdown(results: PeerResult[], run: RunInfo, sizes: readonly number[]): string {
  const md = [
    '# Batched throughput: mobilessd and its WebGPU peers, one machine, one run',
    '',
    `Machine: ${run.machine}. Load average when the run started: ${run.loadAverage} (other work on the machine shifts every figure; compare within a column).`,
    `WebGPU driver: **${run.driver}**. Each row in its own child process, one at a time; total ${run.wallSeconds.toFixed(0)} s.${run.only ? ` Only: ${run.only.join(', ')}.` : ''}`,
    '',
    `Images/s with one call of N images (the same image N times), after one untimed call of that size; 1 to 3 timed calls within the ${(run.budgetS ?? 60).toFixed(0)} s budget per size. "skipped": one call was estimated above the budget. Ratio = mobilessd's images/s / the peer's at the same batch.`,
    '',
  ];
  for (const model of ['face', 'oid', 'backbone'] as const) {
    const rows = results.filter((r) => r.model === model);
    if (!rows.length) continue;
    const reference = rows.filter(isRecord).find((r) => run.referenceIds.has(r.id));
    md.push(`## ${sectionTitle(model, run)}`, '', `| engine | ${sizes.map((n) => `batch ${n}`).join(' | ')} |`);
    md.push(`|---|${sizes.map(() => '---').join('|')}|`);
    for (const r of rows) {
      if (!isRecord(r)) {
        md.push(
          `| ${r.engine} | ${r.skipped ? 'skipped' : 'FAILED'}: ${r.reason.replace(/\|/g, '/')} ${sizes
            .slice(1)
            .map(() => '|')
            .join(' ')} |`,
        );
        continue;
      }
      const cells = sizes.map((n) => {
        const p = r.sweep?.find((s) => s.batch === n);
        if (!p || p.imagesPerS === null) return 'skipped';
        const ref = reference?.sweep?.find((s) => s.batch === n)?.imagesPerS;
        const ratio = r !== reference && ref ? ` (${(ref / p.imagesPerS).toFixed(2)}x)` : '';
        return `${p.imagesPerS.toFixed(2)}${ratio}`;
      });
      md.push(`| ${r.engine} (${r.backend}) | ${cells.join(' | ')} |`);
    }
    const plans = reference?.sweep?.filter((p) => p.note);
    if (plans?.length)
      md.push(
        '',
        `${reference!.engine}, memory plan per batch: ${plans.map((p) => `${p.batch}: ${p.note}`).join('; ')}.`,
      );
    md.push('');
  }
  return md.join('\n');
}
