/**
 * Peers benchmark: mobilessd against TF.js (face-api on webgpu/wasm/cpu), TFLite's WASM runtime in
 * Chromium and ONNX Runtime (node, web wasm, web WebGPU) on this machine, in one run. Each
 * measurement runs in its own child process (this same file with --child), one at a time, so its
 * peak RSS is its own and a crash or OOM becomes a row, not the end of the run.
 *
 *   node .build/bench/peers.js [--driver lavapipe|swiftshader|hardware] [--runs N] [--only id,...] [--quick]
 *       [--budget-s S] [--child-timeout-s S] [--backbone face|<model folder or model.json>|synthetic]
 *       [--browser-bundle file] [--batches 1,2,4,8,16,32,64] [--prepare-only] [--face-api-prebuilt]
 *
 * --prepare-only builds the face-api bundle and writes the ONNX backbone for the selected rows, then stops (the
 * GPU server bundle carries them); --face-api-prebuilt uses that bundle instead of building one.
 *
 * Writes results/peers_<driver>.md and .svg (results/peers_<driver>.quick.* with --quick); with --batches, images/s
 * per batch size of the rows that batch, in results/peers_batch_<driver>.md instead.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, writeResult } from './lib/setup.ts';
import { writeBackbone, type BackboneInfo } from './peers/backbone.ts';
import { parseContext, PREPARED_DIR, type PeerContext } from './peers/context.ts';
import { buildFaceApiBundle } from './peers/face_api_bundle.ts';
import { PeerSkipped, type PeerFailure, type PeerResult } from './peers/record.ts';
import { PEERS, type PeerEntry } from './peers/registry.ts';
import { batchMarkdown, peersMarkdown, peersSvg } from './peers/report.ts';

const CHILD_OUTPUT_TAIL = 1500;

/** The measurement in progress: its process group is ended with the driver. */
let running: number | undefined;

async function runChild(id: string, recordPath: string): Promise<never> {
  const entry = PEERS.find((p) => p.id === id);
  if (!entry || !recordPath)
    throw new Error(`--child needs a known peer id and --record <file> (got ${id}, ${recordPath || 'no file'})`);
  let result: PeerResult;
  try {
    result = { id, ...(await entry.measure(parseContext())) };
  } catch (e) {
    const failure: PeerFailure = {
      id,
      model: entry.model,
      engine: entry.engine,
      skipped: e instanceof PeerSkipped,
      reason: e instanceof Error ? e.message : String(e),
    };
    if (!(e instanceof PeerSkipped)) console.error(e);
    result = failure;
  }
  writeFileSync(recordPath, JSON.stringify(result));
  // Dawn instances stay referenced for the life of the process, so it would not exit by itself.
  process.exit(0);
}

function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
}

/** Runs one entry in a child process; whatever happens, returns a row. */
function measureInChild(entry: PeerEntry, timeoutS: number, env: NodeJS.ProcessEnv): Promise<PeerResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mobilessd-peer-'));
  const recordPath = join(dir, 'record.json');
  const args = [fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child', entry.id, '--record', recordPath];
  // Its own process group, so a timeout also ends the Chromium it may have started.
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running = child.pid;
  let output = '';
  const keep = (b: Buffer) => (output = (output + b.toString()).slice(-CHILD_OUTPUT_TAIL));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  }, timeoutS * 1000);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      running = undefined;
      let result: PeerResult;
      try {
        result = JSON.parse(readFileSync(recordPath, 'utf8')) as PeerResult;
      } catch {
        const why = timedOut
          ? `no result after ${timeoutS} s (killed)`
          : signal
            ? `killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}`
            : `exited with code ${code} and no result`;
        result = {
          id: entry.id,
          model: entry.model,
          engine: entry.engine,
          skipped: false,
          reason: `${why}; last output: ${output.trim().split('\n').slice(-4).join(' / ')}`,
        };
      }
      rmSync(dir, { recursive: true, force: true });
      resolve(result);
    });
  });
}

async function prepare(ctx: PeerContext, selected: readonly PeerEntry[]): Promise<BackboneInfo | { failed: string }> {
  mkdirSync(join(ctx.root, PREPARED_DIR), { recursive: true });
  // Only the TF.js rows load face-api (mobilessd's own face row does not). The GPU server bundle (scripts/device)
  // has no esbuild: it carries the bundle built here and says so with --face-api-prebuilt.
  if (selected.some((p) => p.model === 'face' && !p.reference)) {
    if (!ctx.faceApiPrebuilt) await buildFaceApiBundle(ctx.root, ctx.faceApiBundle);
    else if (!existsSync(ctx.faceApiBundle))
      throw new Error(`--face-api-prebuilt: ${ctx.faceApiBundle} is missing (scripts/device/bundle.sh builds it)`);
  }
  if (!selected.some((p) => p.model === 'backbone')) return { failed: 'no ONNX Runtime row selected' };
  try {
    return await writeBackbone(ctx.backbone, ctx.onnxPath);
  } catch (e) {
    return { failed: `--backbone ${ctx.backbone}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

async function drive(): Promise<void> {
  const started = performance.now();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      if (running) process.kill(-running, 'SIGKILL');
      process.exit(130);
    });
  const ctx = parseContext();
  const only = flag('only')?.split(',');
  const unknown = only?.filter((id) => !PEERS.some((p) => p.id === id)) ?? [];
  if (unknown.length)
    throw new Error(`unknown peer ${unknown.join(', ')}; known: ${PEERS.map((p) => p.id).join(', ')}`);
  const selected = only ? PEERS.filter((p) => only.includes(p.id)) : PEERS.filter((p) => !p.optional);
  const timeoutS = Number(flag('child-timeout-s', ctx.quick ? '300' : '900'));
  const loadAverage = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  console.log(
    `[peers] ${machine()}; load ${loadAverage}; driver ${ctx.driver}; ${selected.length} measurements: ${selected.map((p) => p.id).join(', ')}`,
  );

  const backbone = await prepare(ctx, selected);
  if ('failed' in backbone) console.log(`[peers] ONNX backbone not prepared: ${backbone.failed}`);
  else
    console.log(
      `[peers] ONNX backbone: ${backbone.name} (${backbone.source}), ${(backbone.onnxBytes / 2 ** 20).toFixed(1)} MiB, ${backbone.gmacs.toFixed(2)} G multiply-adds -> ${ctx.onnxPath}`,
    );
  if (flag('prepare-only') === 'true') return;

  // Dawn prints "XDG_RUNTIME_DIR is invalid" without one; harmless, but it buries real errors.
  const runtimeDir = mkdtempSync(join(tmpdir(), 'mobilessd-peers-xdg-'));
  const env = { ...process.env, XDG_RUNTIME_DIR: runtimeDir };
  const results: PeerResult[] = [];
  for (const entry of selected) {
    const t0 = performance.now();
    process.stdout.write(`[peers] ${entry.id} ... `);
    const r: PeerResult =
      entry.model === 'backbone' && 'failed' in backbone
        ? { id: entry.id, model: entry.model, engine: entry.engine, skipped: true, reason: backbone.failed }
        : await measureInChild(entry, timeoutS, env);
    results.push(r);
    const took = `${((performance.now() - t0) / 1000).toFixed(0)} s`;
    if ('latency' in r)
      console.log(
        `${took}: cold ${r.coldStartMs.toFixed(0)} ms, median ${r.latency.medianMs.toFixed(1)} ms, p90 ${r.latency.p90Ms.toFixed(1)} ms (${r.latency.runs} runs), ${r.throughput.batch1.toFixed(2)} / ${r.throughput.batch8?.toFixed(2) ?? 'n/a'} img/s, RSS ${r.peakRssMB.toFixed(0)} MiB; ${r.backend}; ${r.adapter}; ${r.check}`,
      );
    else console.log(`${took}: ${r.skipped ? 'skipped' : 'FAILED'}: ${r.reason}`);
  }
  rmSync(runtimeDir, { recursive: true, force: true });

  const slowGpu =
    ctx.runs.gpu !== ctx.runs.cpu
      ? `, ${ctx.runs.gpu} for WebGPU rows on ${ctx.driver} (one inference takes 20-40 s there)`
      : '';
  const run = {
    machine: machine(),
    loadAverage,
    driver: ctx.driver,
    runsLine: `Warm runs wanted: ${ctx.runs.cpu}${slowGpu}. Time budget ${(ctx.budgetMs / 1000).toFixed(0)} s per phase: a row whose single run is slow gets fewer runs (never fewer than 3) and no batch-8 figure when one batch would exceed the budget; its notes say so.`,
    quick: ctx.quick,
    only,
    backbone,
    referenceIds: new Set(PEERS.filter((p) => p.reference).map((p) => p.id)),
    wallSeconds: (performance.now() - started) / 1000,
  };
  if (ctx.batches) {
    // A sweep run writes its own file: the single-image report of this driver stays as it was.
    const path = writeResult(
      `peers_batch_${ctx.driver}.md`,
      batchMarkdown(results, { ...run, budgetS: ctx.budgetMs / 1000 }, ctx.batches),
    );
    console.log(`[peers] wrote ${path}`);
    return;
  }
  // One file per driver: the lavapipe and SwiftShader runs are both reported.
  const base = `peers_${ctx.driver}${ctx.quick ? '.quick' : ''}`;
  const mdPath = writeResult(`${base}.md`, peersMarkdown(results, run));
  const svgPath = writeResult(`${base}.svg`, peersSvg(results, run));
  console.log(`[peers] wrote ${mdPath} and ${svgPath}`);
}

const child = flag('child');
if (child) await runChild(child, flag('record') ?? '');
else await drive();
