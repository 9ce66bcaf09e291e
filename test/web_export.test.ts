/**
 * Weights for web apps and first contact: the float16 codec (against the definition of round-to-nearest-even),
 * `mobilessd export-web` (files, manifest, sha384 integrity, float16 only where lossless unless asked, the
 * exported folder loading back with the same weights), and `mobilessd doctor` with and without an adapter.
 * The browser side (load({ url, integrity })) is in browser.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { driverHelp } from '../src/gpu/driver_help.ts';
import { decodeFloat16, encodeFloat16, fromFloat16Bits, toFloat16Bits } from '../src/graph/float16.ts';
import { readModel } from '../src/node/model_files.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import type { WebManifest } from '../src/node/web_export.ts';

const root = process.env.MOBILESSD_ROOT ?? process.cwd();
const cliJs = join(root, '.build/test/support/cli_main.js');
const work = mkdtempSync(join(tmpdir(), 'mobilessd-web-export-'));
after(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [cliJs, ...args], { cwd: root, encoding: 'utf8', timeout: 180_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('float16: every finite half survives a round trip; other floats go to the nearest half, ties to even', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = fromFloat16Bits(h);
    if (Number.isNaN(v)) assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(v))), `NaN ${h}`);
    else assert.equal(toFloat16Bits(v), h, `half 0x${h.toString(16)} = ${v}`);
  }
  // Between two adjacent positive halves: below the midpoint, the midpoint, above it.
  const steps = [0x0001, 0x0002, 0x03ff, 0x0400, 0x3c00, 0x3c01, 0x7bfe];
  for (const lo of steps) {
    const a = fromFloat16Bits(lo),
      b = fromFloat16Bits(lo + 1),
      mid = (a + b) / 2;
    const even = lo % 2 === 0 ? lo : lo + 1;
    assert.equal(toFloat16Bits(Math.fround(mid)), even, `tie between 0x${lo.toString(16)} and the next`);
    assert.equal(toFloat16Bits(Math.fround(mid - (b - a) / 8)), lo);
    assert.equal(toFloat16Bits(Math.fround(mid + (b - a) / 8)), lo + 1);
    assert.equal(toFloat16Bits(-Math.fround(mid + (b - a) / 8)), 0x8000 | (lo + 1), 'sign');
  }
  assert.equal(toFloat16Bits(65520), 0x7c00, 'rounds past the largest half to infinity');
  assert.equal(toFloat16Bits(1e-9), 0, 'underflow');
  const values = new Float32Array([0, -0, 1, -2.5, 65504, 2 ** -24, 0.1]);
  assert.deepEqual([...decodeFloat16(encodeFloat16(values))], [0, -0, 1, -2.5, 65504, 2 ** -24, 0.0999755859375]);
});

test('export-web writes model.json, float16 weights (lossless for oid-v4) and a manifest with sha384 integrity', async () => {
  const out = join(work, 'public/models');
  const r = cli(['export-web', '--model', 'oid-v4,coco', '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /oid-v4: .*float16 weights, 23 classes, 300x300/);
  assert.match(r.out, /coco: .*float32 weights, 80 classes, 300x300/);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as WebManifest;
  assert.deepEqual(Object.keys(manifest.models).sort(), ['coco', 'oid-v4']);
  for (const [name, e] of Object.entries(manifest.models)) {
    const json = readFileSync(join(out, e.url));
    assert.equal(e.integrity, `sha384-${createHash('sha384').update(json).digest('base64')}`, name);
    assert.equal(e.bytes, json.byteLength + statSync(join(out, name, 'weights.bin')).size, name);
    assert.ok(r.out.includes(e.integrity), `${name}: the command prints the integrity to paste`);
  }
  // oid-v4's source weights are float16: all but the anchors (computed in float32) go as float16, losslessly.
  const source = await resolveModel('oid-v4');
  const exported = await readModel(join(out, 'oid-v4'));
  assert.equal(manifest.models['oid-v4']!.layout, 'float16-le');
  assert.deepEqual(exported.json.weights.float32, ['anchors']);
  const anchors = source.json.constants.anchors!.length;
  assert.equal(statSync(join(out, 'oid-v4/weights.bin')).size, 2 * source.weights.length + 4 * anchors);
  assert.deepEqual(exported.weights, source.weights);
  // coco's dequantized uint8 weights are not float16 values: auto keeps float32.
  assert.equal(manifest.models.coco!.layout, 'float32-le');
  // A second export into the same folder keeps the other entries.
  assert.equal(cli(['export-web', '--model', 'coco', '--precision', 'float16', '--out', out]).code, 0);
  const again = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as WebManifest;
  assert.deepEqual(Object.keys(again.models).sort(), ['coco', 'oid-v4']);
  assert.equal(again.models.coco!.layout, 'float16-le');
  const coco = await readModel(join(out, 'coco'));
  const cocoSource = await resolveModel('coco');
  assert.equal(statSync(join(out, 'coco/weights.bin')).size * 2, cocoSource.weights.byteLength);
  let worst = 0;
  cocoSource.weights.forEach(
    (v, i) => (worst = Math.max(worst, Math.abs(coco.weights[i]! - v) / Math.max(Math.abs(v), 2 ** -14))),
  );
  assert.ok(worst <= 2 ** -11, `float16 rounding error ${worst}`);
  assert.equal(again.models['oid-v4']!.integrity, manifest.models['oid-v4']!.integrity);
});

test('export-web refuses a missing --out, a bad precision and a foreign manifest', () => {
  assert.equal(cli(['export-web']).code, 2);
  const bad = cli(['export-web', '--out', join(work, 'x'), '--precision', 'float8']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--precision must be one of auto, float16, float32, got "float8"/);
  writeFileSync(join(work, 'manifest.json'), '{"name": "my-pwa"}');
  const foreign = cli(['export-web', '--model', 'coco', '--out', work]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.err, /manifest\.json: is not a mobilessd-web-models manifest/);
  assert.equal(readFileSync(join(work, 'manifest.json'), 'utf8'), '{"name": "my-pwa"}', 'left as it was');
});

test('doctor lists the adapters with their driver kind, features and limits', () => {
  const r = cli(['doctor']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^adapter 1: (hardware|lavapipe|swiftshader): /m);
  assert.match(r.out, /^features: .*\S/m);
  assert.match(r.out, /maxStorageBufferBindingSize\s+\d+/);
  assert.match(r.out, /^ok: detectors run on (hardware|lavapipe|swiftshader)/m);
  assert.match(r.out, /^ {2}subgroups: (offered \(sizes \d+\.\.\d+\); in use by default: .+|not offered .+)$/m);
  // Software adapters keep float models in f32; lavapipe offers 'f16' on request, SwiftShader cannot.
  if (/^ok: detectors run on lavapipe/m.test(r.out))
    assert.match(r.out, /^ {2}precision: float models run in f32 by default .*'f16' on request/m);
  if (/^ok: detectors run on swiftshader/m.test(r.out))
    assert.match(r.out, /^ {2}precision: float models run in f32 \('f16' needs shader-f16/m);
});

test('doctor without an adapter says what to install, and exits 1', () => {
  // An empty Vulkan driver list: Dawn finds nothing on any Linux machine.
  const r = cli(['doctor', '--driver', 'hardware'], { ...process.env, VK_ICD_FILENAMES: join(work, 'none.json') });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /no hardware WebGPU adapter found\. What to install:/);
  assert.match(r.out, /apt-get install mesa-vulkan-drivers/);
  assert.match(r.out, /dnf install mesa-vulkan-drivers/);
});

test('driver help per platform: the distribution first, Metal on macOS, Direct3D 12 on Windows', () => {
  const fedora = driverHelp({ platform: 'linux', osRelease: 'ID=fedora\nVERSION_ID=41\n' });
  assert.ok(fedora.indexOf('dnf install') < fedora.indexOf('apt-get install'), fedora);
  assert.match(fedora, /\[this system: fedora\]/);
  const ubuntu = driverHelp({ platform: 'linux', osRelease: 'ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n' });
  assert.ok(ubuntu.indexOf('apt-get install') < ubuntu.indexOf('dnf install'), ubuntu);
  assert.match(ubuntu, /\[this system: ubuntu noble\]/);
  assert.match(driverHelp({ platform: 'linux' }), /lvp_icd/);
  assert.match(driverHelp({ platform: 'darwin' }), /Metal/);
  assert.match(driverHelp({ platform: 'win32' }), /Direct3D 12/);
});
