/**
 * Does `tune: 'fast'` keep the first detection within 2x the steady detect() time + 1 s (issue 13)? Loads the
 * model with tune 'off' and 'fast' (no plan cache: every 'fast' load tunes), alternately, and times load + the
 * first detect() against the bound computed from the same load's steady median. Writes
 * results/first_detect_<model>_<driver>.md.
 *
 *   node .build/bench/first_detect.js [--model oid-v4] [--rounds 2] [--driver lavapipe|swiftshader|hardware]
 */
import { loadavg } from 'node:os';
import type { TuningStore } from '../src/api/tuning.ts';
import { median } from '../src/gpu/timing.ts';
import { readImageFile } from '../src/image/decode.ts';
import { load } from '../src/index.ts';
import type { DriverChoice } from '../src/gpu/provider.ts';
import { flag, writeResult } from './lib/setup.ts';

const name = flag('model', 'oid-v4')!;
const rounds = Number(flag('rounds', '2'));
const driver = (flag('driver') ?? process.env.MOBILESSD_DRIVER ?? 'auto') as DriverChoice;
const image = await readImageFile('samples/dog.jpg');
/** No cache: each 'fast' load measures, as a first visit on a new adapter does. */
const noStore: TuningStore = {
  read: () => Promise.resolve(undefined),
  write: () => Promise.resolve(),
  describe: () => 'none',
};
const rows: string[] = [];
let adapter = '';
let kind: string = driver;
const startLoad = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
for (let r = 0; r < rounds; r++)
  for (const tune of ['off', 'fast'] as const) {
    const t0 = performance.now();
    const det = await load(name, { driver, tune, tuningStore: noStore });
    await det.detect(image);
    const first = performance.now() - t0;
    const steady: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await det.detect(image);
      steady.push(performance.now() - s);
    }
    const med = median(steady);
    const bound = 2 * med + 1000;
    const g = det.gemmTuning;
    adapter = det.adapter.description;
    kind = det.adapter.driver;
    const check = g.check
      ? `check: table ${g.check.tableMs.toFixed(1)} ms, picks ${g.check.tunedMs.toFixed(1)} ms, kept ${g.check.kept}`
      : 'no check';
    rows.push(
      `| ${r + 1} | ${tune} | ${g.source}${g.result ? `, ${g.result.layers.length} shapes timed, ${g.result.untimed.length} left to later loads, ${g.result.elapsedMs.toFixed(0)} ms; ${check}` : ''}${g.pairs ? `; pairs: ${g.pairs.timed} of ${g.pairs.total} timed, ${g.pairs.fused} fused` : ''} | ${first.toFixed(0)} | ${med.toFixed(1)} | ${bound.toFixed(0)} | ${first <= bound ? 'yes' : '**no**'} |`,
    );
    det.dispose();
  }
const md = [
  `# First detection with tune 'off' and 'fast': ${name}`,
  '',
  `Adapter ${adapter}; load ${startLoad} at the start, ${loadavg()
    .map((l) => l.toFixed(1))
    .join(
      ' ',
    )} at the end. First = load (model from the cache folder, device, weights, tuning, compile) + the first detect() on samples/dog.jpg; steady = median of the next 5 detect() calls; bound = 2 x steady + 1000 ms.`,
  '',
  '| round | tune | GEMM plan | first ms | steady ms | bound ms | within |',
  '|---|---|---|---|---|---|---|',
  ...rows,
];
const text = md.join('\n') + '\n';
console.log(text);
writeResult(`first_detect_${name}_${kind}.md`, text);
process.exit(0);
