/**
 * Size and cost of a model, counted as the MobileNet paper does: parameters are filter + bias
 * values, multiply-adds are those of the convolutions at the model's input size (bias adds,
 * activations, element-wise ops and the SSD head are not counted), split into standard
 * convolutions, depthwise convolutions and 1x1 pointwise convolutions.
 */
import type { ModelJson } from '../graph/ir.ts';
import { convGeometry } from '../core/geometry.ts';

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
  for (const n of json.nodes) {
    if (n.op !== 'conv2d' && n.op !== 'depthwise_conv2d') continue;
    const x = json.shapes[n.inputs[0]!]!;
    const f = json.constants[n.filter]!;
    const b = json.constants[n.bias]!;
    const dw = n.op === 'depthwise_conv2d';
    const [kh, kw] = f.shape as [number, number];
    const outC = dw ? x[3]! : f.shape[3]!;
    const g = convGeometry({ batch: 1, inH: x[1]!, inW: x[2]!, inC: x[3]!, outC, kH: kh, kW: kw, strideH: n.strides[0], strideW: n.strides[1], padding: n.padding });
    const macs = g.outH * g.outW * kh * kw * (dw ? outC : x[3]! * outC);
    const kind = dw ? s.depthwise : kh === 1 && kw === 1 ? s.pointwise : s.standard;
    kind.layers++;
    kind.params += f.length + b.length;
    kind.macs += macs;
  }
  const parts = [s.standard, s.depthwise, s.pointwise];
  return { params: parts.reduce((a, p) => a + p.params, 0), macs: parts.reduce((a, p) => a + p.macs, 0), ...s };
}
