/**
 * The long fuzz run (CI runs a few thousand cases in test/fuzz.test.ts). Built to .build/scripts/fuzz.js:
 *   npm run fuzz -- [--cases 100000] [--seed N] [--target NAME[,NAME]] [--from I] [--hang-ms MS]
 * --cases is the total, shared between the targets by FUZZ_MIX (or all for one --target); --from
 * starts every chosen target at case I, so `--target T --from I --cases 1` replays one case.
 * Exits 1 when any case failed (an untyped error, a hang, a crash or an oversized allocation).
 */
import { isMainThread } from 'node:worker_threads';
import { formatReport, runCampaign, serveCampaign } from '../test/support/fuzz_campaign.ts';
import { TARGET_NAMES } from '../test/support/fuzz_targets.ts';

/** Relative shares of a long run: cheap readers get more cases than whole conversions. */
const FUZZ_MIX: Record<string, number> = {
  'tflite-oid': 20,
  'tflite-coco': 20,
  'tflite-convert': 3,
  'tfjs-manifest': 8,
  'faceapi-convert': 2,
  'model-synthetic': 15,
  'model-coco': 2,
  jpeg: 15,
  png: 15,
};

if (!isMainThread) {
  await serveCampaign();
} else {
  const opts = parseArgs(process.argv.slice(2));
  const mix = Object.fromEntries(opts.targets.map((t) => [t, FUZZ_MIX[t] ?? 1]));
  const weight = Object.values(mix).reduce((a, b) => a + b, 0);
  const cases = Object.fromEntries(
    Object.entries(mix).map(([t, w]) => [t, Math.max(1, Math.round((opts.cases * w) / weight))]),
  );
  console.log(
    `fuzz: seed ${opts.seed}, ${Object.entries(cases)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}`,
  );
  let last = 0;
  const report = await runCampaign(new URL(import.meta.url), {
    seed: opts.seed,
    cases,
    from: Object.fromEntries(opts.targets.map((t) => [t, opts.from])),
    ...(opts.hangMs ? { hangFloorMs: opts.hangMs } : {}),
    onProgress: (done, total) => {
      if (performance.now() - last < 5000 && done < total) return;
      last = performance.now();
      process.stderr.write(`fuzz: ${done} / ${total} cases\n`);
    },
  });
  console.log(formatReport(report));
  process.exit(report.failures.length ? 1 : 0);
}

function parseArgs(argv: string[]): {
  cases: number;
  seed: number;
  targets: string[];
  from: number;
  hangMs: number | undefined;
} {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + 1];
  };
  const int = (name: string, def: number) => {
    const v = value(name);
    const n = v === undefined ? def : Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  const targets = value('--target')?.split(',') ?? [...TARGET_NAMES];
  for (const t of targets)
    if (!TARGET_NAMES.includes(t)) throw new Error(`unknown --target ${t} (known: ${TARGET_NAMES.join(', ')})`);
  const hang = value('--hang-ms');
  return {
    cases: int('--cases', 10000),
    seed: int('--seed', Date.now() % 1e6),
    targets,
    from: int('--from', 0),
    hangMs: hang === undefined ? undefined : int('--hang-ms', 2000),
  };
}
