/**
 * Headless Chromium for browser peers: a page served from 127.0.0.1 by a tiny HTTP server (cross-
 * origin isolated, so WASM threads work), Debian's chromium driven by playwright-core with a fresh
 * profile and the WebGPU flags that give it a SwiftShader adapter, and the peak memory of the whole
 * Chromium process tree.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize, sep } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/** From runtime.md; --enable-unsafe-webgpu is the one that matters. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--use-vulkan=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
};

/** What the server answers: exact paths to bytes or files, and folder prefixes mapped to folders. */
export interface Routes {
  files: Map<string, string | Uint8Array>;
  folders: Map<string, string>;
}

export interface PeerPage {
  page: Page;
  origin: string;
  /** Every path the page asked for, in order (shows which WASM variant a runtime picked). */
  requested: string[];
  browserVersion: string;
  /** Sum over the Chromium processes of their peak resident memory (VmHWM), MB. */
  chromiumPeakRssMB(): number;
  consoleLines: string[];
}

function typeOf(path: string): string {
  return TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream';
}

function resolveRoute(routes: Routes, path: string): string | Uint8Array | undefined {
  const exact = routes.files.get(path);
  if (exact !== undefined) return exact;
  for (const [prefix, dir] of routes.folders) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, path.slice(prefix.length)));
    if (file.startsWith(dir + sep) && existsSync(file) && statSync(file).isFile()) return file;
  }
  return undefined;
}

async function serve(routes: Routes, requested: string[]): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    requested.push(path);
    const found =
      path === '/' ? '<!doctype html><meta charset="utf-8"><title>peers</title>' : resolveRoute(routes, path);
    if (found === undefined) {
      res.writeHead(404).end();
      return;
    }
    const body = typeof found === 'string' && path !== '/' ? readFileSync(found) : found;
    res.writeHead(200, {
      'content-type': path === '/' ? TYPES['.html']! : typeOf(path),
      'cache-control': 'no-store',
      // Cross-origin isolation gives the page SharedArrayBuffer, which WASM threads need.
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the page server has no TCP address');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

/** Descendant process ids of `pid` (from /proc). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const frontier = [pid];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [child, parent] of parentOf)
      if (parent === p) {
        out.push(child);
        frontier.push(child);
      }
  }
  return out;
}

function peakRssKB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export async function withChromiumPage<T>(routes: Routes, fn: (p: PeerPage) => Promise<T>): Promise<T> {
  const { chromium } = await import('playwright-core');
  const requested: string[] = [];
  const { server, origin } = await serve(routes, requested);
  const userDataDir = mkdtempSync(join(tmpdir(), 'mobilessd-peers-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    // Nothing but our server: a stray request elsewhere would hang or leak.
    await context.route('**/*', (route) =>
      new URL(route.request().url()).origin === origin ? route.continue() : route.abort(),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    await page.goto(`${origin}/`);
    const browserVersion = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));
    const chromiumPeakRssMB = () => descendants(process.pid).reduce((a, p) => a + peakRssKB(p), 0) / 1024;
    return await fn({ page, origin, requested, browserVersion, chromiumPeakRssMB, consoleLines });
  } finally {
    await context?.close();
    server.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}
