/**
 * Writes one of our models as an ONNX file (opset 13, NHWC input transposed inside, raw SSD
 * outputs; see model_to_onnx.ts), so ONNX Runtime can run the same network as our engine.
 *
 *   node .build/scripts/onnx/write_onnx.js <model name | model folder | model.json | source file> <out.onnx>
 *
 * The model argument is anything resolveModel takes: `face`, `oid-v4`, a converted model folder or
 * its model.json, a .tflite file or a TF.js weights manifest.
 */
import { writeFileSync } from 'node:fs';
import { resolveModel } from '../../src/node/model_registry.ts';
import { modelToOnnx } from '../../src/graph/onnx_export.ts';

const [model, out] = process.argv.slice(2);
if (!model || !out) {
  console.error('usage: node .build/scripts/onnx/write_onnx.js <model name | folder | model.json> <out.onnx>');
  process.exit(2);
}
const loaded = await resolveModel(model, { log: (s) => console.log(s) });
const bytes = modelToOnnx(loaded);
writeFileSync(out, bytes);
console.log(
  `${loaded.json.name}: ${loaded.json.nodes.length} nodes -> ${out} (${(bytes.length / 2 ** 20).toFixed(2)} MiB)`,
);
