/**
 * mobilessd in the same headless Chromium as the TFLite peer (WebGPU on Chromium's SwiftShader
 * adapter). The page loads the caller's browser bench bundle (--browser-bundle) and drives
 * `window.mobilessdBench`, which must implement PageBench (page_bench.ts); the bundle fetches models
 * from `${origin}/repo/<path in the repository>`. Skipped, with a note, while the bundle is absent.
 */
import { existsSync } from 'node:fs';
import { withChromiumPage, type Routes } from './chromium.ts';
import type { PeerContext } from './context.ts';
import { packageVersion } from './inputs.ts';
import { finishPageBench, loadPageScript, openPageBench, pageHasBench } from './page_bench.ts';
import { measureWarm, PeerSkipped, type PeerModel, type PeerRecord } from './record.ts';

const GLOBAL = 'mobilessdBench';

export async function measureMobilessdInChromium(ctx: PeerContext, model: PeerModel): Promise<Omit<PeerRecord, 'id'>> {
  if (!existsSync(ctx.browserBundle))
    throw new PeerSkipped(
      `no browser bench bundle at ${ctx.browserBundle} (pass --browser-bundle <file> once it is built)`,
    );
  const routes: Routes = {
    files: new Map([['/bundle/mobilessd-bench.js', ctx.browserBundle]]),
    folders: new Map([['/repo/', ctx.root]]),
  };
  return withChromiumPage(routes, async ({ page, origin, browserVersion, chromiumPeakRssMB }) => {
    const t0 = performance.now();
    await loadPageScript(page, '/bundle/mobilessd-bench.js');
    if (!(await pageHasBench(page, GLOBAL)))
      throw new PeerSkipped(`${ctx.browserBundle} loaded but defines no window.${GLOBAL} with open()`);
    const { info, engine } = await openPageBench(page, GLOBAL, { origin, model, quick: ctx.quick });
    await engine.one();
    const coldStartMs = performance.now() - t0;
    const measured = await measureWarm(engine, { runs: ctx.runs.gpu, budgetMs: ctx.budgetMs });
    const result = await finishPageBench(page, GLOBAL);
    return {
      model,
      engine: info.engine,
      backend: info.backend,
      adapter: info.adapter,
      timed: info.timed,
      coldStartMs,
      ...measured,
      peakRssMB: chromiumPeakRssMB(),
      rssScope: 'Chromium process tree (sum of each process peak VmHWM; an upper bound)',
      ...result,
      versions: { ...info.versions, chromium: browserVersion, 'playwright-core': packageVersion('playwright-core') },
      notes: [...info.notes, ...measured.notes],
    };
  });
}
