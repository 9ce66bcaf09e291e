/**
 * Size and cost of a model, counted as the MobileNet paper does: parameters are filter + bias
 * values, multiply-adds are those of the convolutions at the model's input size (bias adds,
 * activations, element-wise ops and the SSD head are not counted), split into standard
 * convolutions, depthwise convolutions and 1x1 pointwise convolutions. Each op counts itself.
 */
import type { ShapeContext } from '../ops/support/node.ts';
import { opOf } from '../ops/support/registry.ts';
import type { ModelJson } from './ir.ts';

export interface LayerTypeStats {
  layers: number;
  params: number;
  macs: number;
}

export interface ModelStats {
  params: number;
  macs: number;
  standard: LayerTypeStats;
  depthwise: LayerTypeStats;
  pointwise: LayerTypeStats;
}

export function modelStats(json: ModelJson): ModelStats {
  const zero = (): LayerTypeStats => ({ layers: 0, params: 0, macs: 0 });
  const s = { standard: zero(), depthwise: zero(), pointwise: zero() };
  const cx: ShapeContext = { constShape: (name) => json.constants[name]?.shape };
  let params = 0;
  let macs = 0;
  for (const n of json.nodes) {
    const cost = opOf(n, json.name).cost(
      n,
      n.inputs.map((t) => json.shapes[t]!),
      cx,
    );
    params += cost.params;
    macs += cost.macs;
    if (!cost.layerType) continue;
    const kind = s[cost.layerType];
    kind.layers++;
    kind.params += cost.params;
    kind.macs += cost.macs;
  }
  return { params, macs, ...s };
}
