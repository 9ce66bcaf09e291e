/**
 * Which requantization TFLite's WASM runtime used for the COCO uint8 goldens, measured. Built to
 * .build/scripts/integer_parity.js:
 *   node scripts/build.mjs bench && node .build/scripts/integer_parity.js [--out results/integer_parity.md]
 * Runs the CPU integer interpreter (test/support/tflite_int_reference.ts) on every COCO golden with
 * each requantization and counts the bytes of Squeeze, concat_1 and convert_scores that differ from
 * TFLite's; then, on one image, swaps one convolution at a time to TFLite's fixed-point arithmetic
 * (inputs from the XNNPACK run) to show how many values a single layer changes.
 */
import { writeFileSync } from 'node:fs';
import { parseTflite } from '../src/convert/tflite.ts';
import { REQUANTIZATIONS, type QuantArray } from '../src/kernels/quantization.ts';
import { buildGoldenInput, goldenStems, loadGolden } from '../test/support/goldens.ts';
import { COCO_TFLITE, cocoBytes } from '../test/support/model_sources.ts';
import { intOps } from '../test/support/tflite_int_ops.ts';
import { runTfliteInt } from '../test/support/tflite_int_reference.ts';

const outArg = process.argv.indexOf('--out');
const outFile = outArg >= 0 ? process.argv[outArg + 1] : undefined;
const MODEL = 'coco-ssd-mobilenetv1-quant';
const OUTPUTS = ['Squeeze', 'concat_1', 'convert_scores'];
const model = parseTflite(cocoBytes(), COCO_TFLITE);
const index = (name: string) => model.tensors.findIndex((t) => t.name === name);

function compare(ours: QuantArray, ref: QuantArray): { differ: number; max: number } {
  let differ = 0,
    max = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i]! - ref[i]!);
    if (d) differ++;
    max = Math.max(max, d);
  }
  return { differ, max };
}

const lines: string[] = [
  '# Integer execution of the COCO uint8 model vs TFLite WASM (the goldens)',
  '',
  'Made by `node scripts/build.mjs bench && node .build/scripts/integer_parity.js`. Bytes of each raw output',
  `that differ from TFLite's (test/fixtures/goldens/${MODEL}), and the largest difference in quantization steps.`,
  '',
  '| golden | requantization | Squeeze (7668) | concat_1 (174447) | convert_scores (174447) |',
  '|---|---|---|---|---|',
];
const stems = goldenStems(MODEL);
for (const stem of stems) {
  const g = loadGolden(MODEL, stem);
  const input = buildGoldenInput(g).data as Uint8Array;
  for (const requant of REQUANTIZATIONS) {
    const values = runTfliteInt(model, input, requant);
    const cells = OUTPUTS.map((name) => {
      const c = compare(values.get(index(name))!, g.outputs[name]!.quantized!);
      return c.differ ? `${c.differ} differ (max ${c.max})` : 'equal';
    });
    lines.push(`| ${stem} | ${requant} | ${cells.join(' | ')} |`);
    console.log(lines.at(-1));
  }
}

const stem = stems.find((s) => s === 'darknet__dog') ?? stems[0]!;
const input = buildGoldenInput(loadGolden(MODEL, stem)).data as Uint8Array;
const xnnpack = runTfliteInt(model, input, 'xnnpack');
const fixedOps = intOps(model, 'tflite');
lines.push(
  '',
  `One layer at a time on ${stem}: each convolution rerun with TFLite's fixed-point requantization`,
  "on the XNNPACK run's input.",
  '',
);
lines.push('| op | kind | output | values that differ |', '|---|---|---|---|');
for (const op of fixedOps) {
  if (op.kind !== 'conv2d' && op.kind !== 'depthwise') continue;
  const y = runTfliteInt(model, xnnpack.get(op.input)!, 'tflite', [{ ...op, input: model.inputs[0]! }]).get(op.output)!;
  const c = compare(y, xnnpack.get(op.output)!);
  const t = model.tensors[op.output]!;
  lines.push(
    `| ${op.op.index} | ${op.kind} ${op.g.kH}x${op.g.kW} s${op.g.strideH} | [${t.shape}] | ` +
      `${c.differ} of ${y.length} (${((100 * c.differ) / y.length).toFixed(2)}%) |`,
  );
  console.log(lines.at(-1));
}
if (outFile) writeFileSync(outFile, `${lines.join('\n')}\n`);
