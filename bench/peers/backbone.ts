/**
 * The network of the ONNX Runtime section: one of our models written as ONNX by the driver (see
 * scripts/onnx/model_to_onnx.ts), with a small JSON beside it saying what the children need to feed
 * it and to check its output, so they never load the model themselves.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { modelStats } from '../../src/graph/model_stats.ts';
import type { ModelJson } from '../../src/graph/ir.ts';
import type { PreprocessSpec } from '../../src/core/model_spec.ts';
import type { LoadedModel } from '../../src/graph/weights.ts';
import { resolveModel } from '../../src/node/model_registry.ts';
import { modelToOnnx } from '../../src/graph/onnx_export.ts';
import { syntheticModel } from '../../test/support/synthetic_model.ts';

export interface BackboneInfo {
  name: string;
  description: string;
  /** What --backbone named (registry name, path or "synthetic"). */
  source: string;
  input: string;
  outputs: ModelJson['outputs'];
  preprocess: PreprocessSpec;
  ssd: Pick<ModelJson['ssd'], 'scoreFunction' | 'backgroundClass'>;
  /** Logit columns (labels, background included). */
  classes: number;
  gmacs: number;
  onnxBytes: number;
}

const sidecar = (onnxPath: string) => onnxPath.replace(/\.onnx$/, '.json');

async function loadBackbone(source: string): Promise<LoadedModel> {
  // Stand-in for developing the harness before a real model is converted; its figures mean nothing.
  if (source === 'synthetic') return syntheticModel();
  return resolveModel(source, { log: (s) => console.log(`[peers] ${s}`) });
}

export async function writeBackbone(source: string, onnxPath: string): Promise<BackboneInfo> {
  const model = await loadBackbone(source);
  const bytes = modelToOnnx(model);
  writeFileSync(onnxPath, bytes);
  const j = model.json;
  const info: BackboneInfo = {
    name: j.name,
    description: j.description,
    source,
    input: j.input,
    outputs: j.outputs,
    preprocess: j.preprocess,
    ssd: { scoreFunction: j.ssd.scoreFunction, backgroundClass: j.ssd.backgroundClass },
    classes: j.labels.length,
    gmacs: modelStats(j).macs / 1e9,
    onnxBytes: bytes.length,
  };
  writeFileSync(sidecar(onnxPath), JSON.stringify(info, null, 1));
  return info;
}

export function readBackboneInfo(onnxPath: string): BackboneInfo {
  return JSON.parse(readFileSync(sidecar(onnxPath), 'utf8')) as BackboneInfo;
}

/** Best object score over all anchors and non-background classes of raw logits [A, classes]. */
export function bestScore(logits: Float32Array, info: BackboneInfo): number {
  const C = info.classes;
  let best = 0;
  for (let a = 0; a < logits.length / C; a++) {
    const row = logits.subarray(a * C, (a + 1) * C);
    const max = Math.max(...row);
    const softmaxDenominator = row.reduce((s, v) => s + Math.exp(v - max), 0);
    for (let c = 0; c < C; c++) {
      if (c === info.ssd.backgroundClass) continue;
      const p =
        info.ssd.scoreFunction === 'softmax'
          ? Math.exp(row[c]! - max) / softmaxDenominator
          : 1 / (1 + Math.exp(-row[c]!));
      best = Math.max(best, p);
    }
  }
  return best;
}
