/**
 * Converts the bundled models (and any model paths given as arguments) into the weights cache and
 * prints their sizes, parameters and multiply-adds. Built to .build/scripts/convert-models.js:
 *   node .build/scripts/convert-models.js [--force] [--dirs FILE.json] [path ...]
 * --dirs writes {name: folder} of every model: a cache hit may be in the user cache, not weights/.
 */
import { writeFileSync } from 'node:fs';
import { modelStats, type LayerTypeStats } from '../src/graph/model_stats.ts';
import { BUNDLED_MODELS, resolveModel } from '../src/node/model_registry.ts';
import { MobileSsdError } from '../src/errors.ts';

const args = process.argv.slice(2);
const refresh = args.includes('--force');
const dirsAt = args.indexOf('--dirs');
const dirsFile = dirsAt >= 0 ? args[dirsAt + 1] : undefined;
if (dirsAt >= 0 && !dirsFile) throw new Error('--dirs needs a file name');
const names = [
  ...BUNDLED_MODELS.map((m) => m.name),
  ...args.filter((a, i) => a !== '--force' && a !== '--dirs' && !(dirsAt >= 0 && i === dirsAt + 1)),
];
const dirs: Record<string, string> = {};
const mega = (n: number) => `${(n / 1e6).toFixed(2)} M`;
const part = (label: string, p: LayerTypeStats) =>
  `${label} ${p.layers} layers ${mega(p.params)} params ${mega(p.macs)} MACs`;

let failed = false;
for (const name of names) {
  const t0 = performance.now();
  try {
    const m = await resolveModel(name, { refresh, log: (s) => console.log(`  ${s}`) });
    const ms = performance.now() - t0;
    const s = modelStats(m.json);
    const size = m.json.weights.byteLength;
    console.log(
      `${name}: ${m.json.nodes.length} nodes, weights ${(size / 2 ** 20).toFixed(2)} MiB, ${mega(s.params)} params, ${(s.macs / 1e9).toFixed(3)} G MACs at ${m.json.preprocess.width}x${m.json.preprocess.height}, ${m.converted ? 'converted' : 'loaded from cache'} in ${ms.toFixed(0)} ms`,
    );
    console.log(
      `  ${part('standard', s.standard)}; ${part('depthwise', s.depthwise)}; ${part('pointwise', s.pointwise)}`,
    );
    console.log(`  ${m.dir}`);
    dirs[name] = m.dir;
  } catch (e) {
    failed = true;
    console.error(`${name}: ${e instanceof MobileSsdError ? e.message : String(e)}`);
  }
}
if (dirsFile) writeFileSync(dirsFile, `${JSON.stringify(dirs, null, 2)}\n`);
process.exit(failed ? 1 : 0);
