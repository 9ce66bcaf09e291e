/**
 * How the Node harness drives an engine inside a Chromium page. The page holds an object
 * implementing PageBench (TFLite's is installed by tflite_page.ts; mobilessd's browser bundle defines
 * `window.mobilessdBench`); Node calls its methods one by one, and every time is measured inside
 * the page, so the DevTools round trip of each call stays out of the figures.
 */
import type { Page } from 'playwright-core';
import type { PeerModel, TimedEngine } from './record.ts';

export interface PageOpenArgs {
  /** The page's own origin (http://127.0.0.1:port); repository files are under `${origin}/repo/`. */
  origin: string;
  /** Which network to run (the report section), for pages that can run several. */
  model?: PeerModel;
  quick: boolean;
  /** WASM threads, for engines that have them. */
  threads?: number;
}

export interface PageEngineInfo {
  engine: string;
  /** What the engine reports it runs on (e.g. tf.getBackend(), adapter.info), never just what was asked. */
  backend: string;
  adapter: string;
  timed: string;
  versions: Record<string, string>;
  notes: string[];
}

export interface PageResultInfo {
  check: string;
  memoryBytes: number | null;
  memoryNote: string;
}

/** The contract a page-side engine implements (mobilessd's browser bench bundle included). */
export interface PageBench {
  /** Loads engine and model; the time it takes counts toward the cold start. */
  open(args: PageOpenArgs): Promise<PageEngineInfo>;
  /** One image end to end; resolves to its wall time in ms measured in the page. */
  one(): Promise<number>;
  /** Eight images in one call, ms; leave it out when the engine cannot batch. */
  batch8?(): Promise<number>;
  /** Sanity result of the last run and the engine's own memory figure. */
  finish(): Promise<PageResultInfo>;
}

type WithBench = Record<string, PageBench | undefined>;

export async function pageHasBench(page: Page, global: string): Promise<boolean> {
  return page.evaluate((g) => typeof (window as unknown as WithBench)[g]?.open === 'function', global);
}

/** Adds a <script> for `url` and waits until it has run. */
export async function loadPageScript(page: Page, url: string): Promise<void> {
  await page.evaluate(
    (src) =>
      new Promise<void>((ok, fail) => {
        const s = document.createElement('script');
        s.src = src;
        s.onload = () => ok();
        s.onerror = () => fail(new Error(`could not load ${src}`));
        document.head.append(s);
      }),
    url,
  );
}

export async function openPageBench(
  page: Page,
  global: string,
  args: PageOpenArgs,
): Promise<{ info: PageEngineInfo; engine: TimedEngine }> {
  const info = await page.evaluate(([g, a]) => (window as unknown as WithBench)[g]!.open(a), [global, args] as const);
  const canBatch = await page.evaluate(
    (g) => typeof (window as unknown as WithBench)[g]!.batch8 === 'function',
    global,
  );
  const engine: TimedEngine = { one: () => page.evaluate((g) => (window as unknown as WithBench)[g]!.one(), global) };
  if (canBatch) engine.batch8 = () => page.evaluate((g) => (window as unknown as WithBench)[g]!.batch8!(), global);
  return { info, engine };
}

export async function finishPageBench(page: Page, global: string): Promise<PageResultInfo> {
  return page.evaluate((g) => (window as unknown as WithBench)[g]!.finish(), global);
}
