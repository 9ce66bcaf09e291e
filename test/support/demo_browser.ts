/**
 * The demo page in Debian's Chromium (WebGPU on its SwiftShader adapter), driven by playwright-core:
 * builds the page, serves it with the converted oid-v4 model and samples/, and opens a persistent
 * Chromium context that may reach nothing but that server. Shared by the browser test files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startStaticServer, type StaticServer } from '../../scripts/static_server.mjs';
import type { Detection } from '../../src/detect_types.ts';
import { readImageFile } from '../../src/image/decode.ts';
import { resolveModel } from '../../src/node/model_registry.ts';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.ts';
import { repoRoot } from './goldens.ts';
import { writeY4m } from './y4m.ts';

/** Chromium's fake camera (a test pattern) instead of a real device, and no permission prompt. */
export const FAKE_CAMERA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

/** Arguments for a fake camera that films `picture` (looped) instead of the test pattern. */
async function cameraFilming(picture: string, scratch: string): Promise<string[]> {
  const video = join(scratch, 'camera.y4m');
  writeY4m(await readImageFile(picture), video);
  return [...FAKE_CAMERA_ARGS, `--use-file-for-fake-video-capture=${video}`];
}

/** What the demo exposes as window.mobilessdDemo (web/app.ts). */
export interface DemoState {
  status: string;
  model: string;
  results: {
    source: string;
    mediaTime: number | null;
    detections: Detection[];
    times: { upload: number; gpu?: number; submitToResult: number; total: number } | undefined;
  }[];
  message: { kind: string; code: string; title: string; detail: string } | null;
  detector?: { detect(input: unknown): Promise<unknown> };
}
declare global {
  interface Window {
    mobilessdDemo: DemoState;
    mobilessdTestDevices: GPUDevice[];
  }
}

export interface DemoBrowser {
  root: string;
  artifacts: string;
  /** A temporary folder, removed by close(). */
  scratch: string;
  server: StaticServer;
  /** The folder oid-v4's model.json and weights.bin are served from. */
  oidDir: string;
  context: BrowserContext;
  page: Page;
  /** The page's console and uncaught errors, for failure messages. */
  consoleLines: string[];
  close(): Promise<void>;
}

export async function openDemoBrowser(
  o: {
    args?: readonly string[];
    viewport?: { width: number; height: number };
    /** More folders to serve, by URL prefix. */
    mounts?: Record<string, string>;
    /** A picture for a fake camera to film (it also takes FAKE_CAMERA_ARGS). */
    camera?: string;
  } = {},
): Promise<DemoBrowser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: run scripts/install-system-deps.sh chromium (npm test does it as root)`,
  );
  const root = repoRoot();
  // npm test built the page and the library before any test ran (scripts/test.mjs); a file run on its own builds
  // them here, so that it never serves a stale page.
  if (process.env.MOBILESSD_PAGE_BUILT !== '1') {
    const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), 'lib', 'web'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, `building the page failed: ${built.stderr}`);
  }
  // The converted model may live in the user cache rather than weights/ (a cache hit from another checkout).
  const oidDir = (await resolveModel('oid-v4')).dir;
  const faceDir = (await resolveModel('face')).dir;
  const artifacts = join(root, 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'mobilessd-browser-'));
  const server = await startStaticServer({
    mounts: {
      '/': join(root, 'dist/web'),
      '/browser/': join(root, 'dist/browser'),
      '/weights/': join(root, 'weights'),
      '/weights/oid-v4/': oidDir,
      '/weights/face/': faceDir,
      '/weights/coco/': (await resolveModel('coco')).dir,
      '/weights/blazeface/': (await resolveModel('blazeface')).dir,
      '/samples/': join(root, 'samples'),
      ...o.mounts,
    },
  });
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(join(scratch, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(o.args ?? []), ...(o.camera ? await cameraFilming(o.camera, scratch) : [])],
    viewport: o.viewport ?? { width: 1280, height: 860 },
  });
  // Nothing but our server; a request elsewhere would hang or leak.
  await context.route('**/*', (route) =>
    route.request().url().startsWith(server.origin) ? route.continue() : route.abort(),
  );
  // Every device the page acquires, so a test can lose one on purpose.
  await context.addInitScript(() => {
    window.mobilessdTestDevices = [];
    const requestDevice = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = async function (
      this: GPUAdapter,
      ...args: Parameters<GPUAdapter['requestDevice']>
    ) {
      const device = await requestDevice.apply(this, args);
      window.mobilessdTestDevices.push(device);
      return device;
    };
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleLines: string[] = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  return {
    root,
    artifacts,
    scratch,
    server,
    oidDir,
    context,
    page,
    consoleLines,
    async close() {
      await context.close();
      await server.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Waits until the page has `count` results (or shows an error), and returns them. */
export async function waitForResults(b: DemoBrowser, count: number, timeout = 90_000): Promise<DemoState['results']> {
  await b.page.waitForFunction(
    (n) => window.mobilessdDemo?.results.length >= n || window.mobilessdDemo?.message?.kind === 'error',
    count,
    { timeout, polling: 100 },
  );
  const state = await b.page.evaluate(() => ({
    results: window.mobilessdDemo.results,
    message: window.mobilessdDemo.message,
  }));
  assert.equal(state.message, null, `the page shows: ${JSON.stringify(state.message)}\n${b.consoleLines.join('\n')}`);
  return state.results;
}
