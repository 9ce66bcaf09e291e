/**
 * Whether a depthwise convolution and the 1x1 convolution reading it run fused (dwpw_conv2d.ts) or as the
 * pair, per layer: the plan's choice (the load-time autotuner timed both on this device) or the table's.
 */
import { DWPW_WORKGROUP_SIZES, isDwpwVariant, type DwpwShape, type DwpwVariant } from './dwpw_conv2d.ts';
import type { GemmPlan } from './pointwise_tuning.ts';

export interface FusedChoice {
  variant: DwpwVariant;
  workgroupSize: number;
}

/** A pair's key in a GemmPlan: the depthwise geometry (pads included) and the 1x1 convolution's width. */
export function dwpwShapeKey(s: DwpwShape): string {
  const g = s.g;
  const pads = [g.padTop, g.padLeft, g.padBottom, g.padRight].join(',');
  return `dwpw:${g.batch}x${g.inH}x${g.inW}x${g.inC}:k${g.kH}x${g.kW}:s${g.strideH}x${g.strideW}:p${pads}:n${s.N}`;
}

export function isFusedChoice(c: { variant: string; workgroupSize: number }): c is FusedChoice {
  return isDwpwVariant(c.variant) && (DWPW_WORKGROUP_SIZES as readonly number[]).includes(c.workgroupSize);
}

/**
 * The fused configuration for this pair, or undefined for the pair. No adapter's table fuses: the pair measured
 * faster per layer and on the whole network on lavapipe and SwiftShader (results/dwpw_lavapipe.md), and no
 * hardware adapter has been measured; there the load-time autotuner times both and may pick fusion per layer.
 */
export function plannedDwpw(s: DwpwShape, plan?: GemmPlan): FusedChoice | undefined {
  const planned = plan?.get(dwpwShapeKey(s));
  return planned && isFusedChoice(planned) ? planned : undefined;
}
