/** Text and JSON renderings of an evaluation result. */
import type { EvaluationResult } from './evaluate.ts';

/** Which metrics a report shows: PASCAL VOC AP at the VOC IoU threshold, the COCO metrics, or both. */
export type MetricFamily = 'voc' | 'coco' | 'all';

export function formatEvaluationReport(result: EvaluationResult, metric: MetricFamily = 'all'): string {
  const d = result.dataset;
  const lines = [
    `dataset: ${d.source} (${d.format}, ${d.images} images, ${d.groundTruthBoxes} boxes)`,
    `shared classes (${result.sharedClasses.length}): ${result.sharedClasses.join(', ')}`,
  ];
  if (result.unmappedModelLabels.length)
    lines.push(`model labels not scored: ${result.unmappedModelLabels.join(', ')}`);
  if (result.classesWithoutModelLabel.length)
    lines.push(`dataset classes no model label maps to: ${result.classesWithoutModelLabel.join(', ')}`);
  if (result.mappedClassesWithoutGroundTruth.length)
    lines.push(`mapped classes without ground truth here: ${result.mappedClassesWithoutGroundTruth.join(', ')}`);
  lines.push('', formatClassTable(result, metric), '');
  if (metric !== 'coco')
    lines.push(
      `VOC mAP@${result.iouThreshold} (${result.iouConvention} IoU): all-point ${pct(result.mAP)}, 11-point ${pct(result.mAP11)}`,
    );
  if (metric !== 'voc') {
    lines.push(
      `COCO AP@[.50:.95] ${pct(result.coco.ap)}, AP50 ${pct(result.coco.ap50)}, AP75 ${pct(result.coco.ap75)}, ` +
        `small ${pct(result.coco.apSmall)}, medium ${pct(result.coco.apMedium)}, large ${pct(result.coco.apLarge)}`,
    );
  }
  lines.push(
    `detections: ${result.detections.scored} scored, ${result.detections.notScored} of labels outside the shared classes`,
  );
  if (result.warnings.length) {
    lines.push(`warnings: ${result.warnings.length} annotation(s) skipped`);
    for (const w of result.warnings.slice(0, 10)) lines.push(`  ${w.file}: ${w.reason}`);
    if (result.warnings.length > 10) lines.push(`  ... and ${result.warnings.length - 10} more`);
  }
  return lines.join('\n');
}

/** One row per shared class: counts, VOC TP/FP and AP (all-point and 11-point), COCO AP. */
export function formatClassTable(result: EvaluationResult, metric: MetricFamily = 'all'): string {
  const voc = metric !== 'coco';
  const coco = metric !== 'voc';
  const header = [
    'class',
    'model labels',
    'GT',
    'ignored',
    'dets',
    ...(voc ? ['TP', 'FP', 'AP', 'AP 11pt'] : []),
    ...(coco ? ['COCO AP', 'AP50', 'AP75'] : []),
  ];
  const rows = result.perClass.map((c) => [
    c.className,
    c.modelLabels.join(' + '),
    String(c.groundTruths),
    String(c.ignoredGroundTruths),
    String(c.detections),
    ...(voc ? [String(c.truePositives), String(c.falsePositives), pct(c.ap), pct(c.ap11)] : []),
    ...(coco ? [pct(c.coco.ap), pct(c.coco.ap50), pct(c.coco.ap75)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // The first two columns are names; every other column is a number, right-aligned.
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A plain JSON object of the result (NaN becomes null); the PR curves only when asked, as they are large. */
export function evaluationToJson(result: EvaluationResult, options: { curves?: boolean } = {}): unknown {
  const perClass = result.perClass.map(({ precision, recall, ...rest }) =>
    options.curves ? { ...rest, precision, recall } : rest,
  );
  return JSON.parse(JSON.stringify({ ...result, perClass }));
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '-';
}
