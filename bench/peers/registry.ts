/**
 * Every measurement of the peers benchmark, one line each. Each runs in its own child process, so
 * a crash or out-of-memory in one is reported in the table and the others still run. mobilessd's
 * own rows are added here the same way with `reference: true`: the report then shows every peer of
 * the section against it.
 */
import type { PeerContext } from './context.ts';
import { measureMobilessdInChromium } from './mobilessd_browser.ts';
import { measureMobilessd, measureMobilessdBackbone } from './mobilessd_node.ts';
import { measureOrtBackbone } from './ort_backbone.ts';
import type { PeerModel, PeerRecord } from './record.ts';
import { measureTfjsFace } from './tfjs_face.ts';
import { measureTfliteOid } from './tflite_oid.ts';

export interface PeerEntry {
  id: string;
  model: PeerModel;
  /** Shown when the measurement fails before it can describe itself. */
  engine: string;
  /** The row the section's ratios are computed against (mobilessd's). */
  reference?: boolean;
  /** Not run unless named with --only (slow, or a second implementation of a row already there). */
  optional?: boolean;
  measure(ctx: PeerContext): Promise<Omit<PeerRecord, 'id'>>;
}

export const PEERS: readonly PeerEntry[] = [
  {
    id: 'mobilessd',
    model: 'face',
    engine: 'mobilessd (Node, Dawn)',
    reference: true,
    measure: (c) => measureMobilessd(c, 'face'),
  },
  {
    id: 'mobilessd-oid',
    model: 'oid',
    engine: 'mobilessd (Node, Dawn)',
    reference: true,
    measure: (c) => measureMobilessd(c, 'oid'),
  },
  {
    id: 'mobilessd-backbone',
    model: 'backbone',
    engine: 'mobilessd (Node, Dawn)',
    reference: true,
    measure: (c) => measureMobilessdBackbone(c),
  },
  {
    id: 'tfjs-webgpu',
    model: 'face',
    engine: 'TF.js tfjs-backend-webgpu + face-api',
    measure: (c) => measureTfjsFace(c, 'webgpu'),
  },
  {
    id: 'tfjs-wasm',
    model: 'face',
    engine: 'TF.js tfjs-backend-wasm + face-api',
    measure: (c) => measureTfjsFace(c, 'wasm'),
  },
  {
    id: 'tfjs-cpu',
    model: 'face',
    engine: 'TF.js tfjs-backend-cpu + face-api',
    measure: (c) => measureTfjsFace(c, 'cpu'),
  },
  {
    id: 'tflite-1t',
    model: 'oid',
    engine: 'TFLite WASM in Chromium, 1 thread',
    measure: (c) => measureTfliteOid(c, 1),
  },
  {
    id: 'tflite-2t',
    model: 'oid',
    engine: 'TFLite WASM in Chromium, 2 threads',
    measure: (c) => measureTfliteOid(c, 2),
  },
  {
    id: 'mobilessd-chromium',
    model: 'oid',
    engine: 'mobilessd in Chromium (WebGPU, SwiftShader)',
    measure: (c) => measureMobilessdInChromium(c, 'oid'),
  },
  {
    id: 'ort-node',
    model: 'backbone',
    engine: 'onnxruntime-node',
    measure: (c) => measureOrtBackbone(c, { runtime: 'node' }),
  },
  {
    id: 'ort-wasm-1t',
    model: 'backbone',
    engine: 'onnxruntime-web wasm, 1 thread',
    measure: (c) => measureOrtBackbone(c, { runtime: 'web-wasm', threads: 1 }),
  },
  {
    id: 'ort-wasm-2t',
    model: 'backbone',
    engine: 'onnxruntime-web wasm, 2 threads',
    measure: (c) => measureOrtBackbone(c, { runtime: 'web-wasm', threads: 2 }),
  },
  {
    id: 'ort-webgpu',
    model: 'backbone',
    engine: 'onnxruntime-web/webgpu',
    measure: (c) => measureOrtBackbone(c, { runtime: 'web-webgpu' }),
  },
  {
    id: 'ort-webgpu-jsep',
    model: 'backbone',
    engine: 'onnxruntime-web/all (JSEP)',
    optional: true,
    measure: (c) => measureOrtBackbone(c, { runtime: 'web-webgpu-jsep' }),
  },
];
