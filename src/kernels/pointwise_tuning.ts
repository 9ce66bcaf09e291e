/**
 * Which GEMM tile and workgroup size to use for a 1x1 convolution, per adapter kind: a small table
 * from measurement, not a guess. Evidence: results/gemm_tuning_<driver>.md, made by
 * bench/gemm_tune.ts (every tile x workgroup size on every 1x1 layer of the bundled models).
 */
import type { DriverKind } from '../gpu/provider.ts';
import { pointwiseVariantSupported, type PointwiseShape, type PointwiseVariant } from './pointwise_conv2d.ts';

export interface GemmChoice {
  variant: PointwiseVariant;
  workgroupSize: number;
}

interface Rule {
  /** The rule applies to GEMMs with at most this many rows (pixels). */
  maxRows: number;
  choice: GemmChoice;
}

// lavapipe (Mesa 25, AVX2): 8x2 tiles in 256-wide workgroups won overall (763 ms vs 945 for 4x1 on
// all 1x1 layers of oid-v4 + face); layers of a handful of pixels prefer small tiles, which waste
// no rows. SwiftShader and hardware use the same table until measured there.
const LAVAPIPE: Rule[] = [
  { maxRows: 64, choice: { variant: 'blocked4x1', workgroupSize: 32 } },
  { maxRows: Infinity, choice: { variant: 'blocked8x2', workgroupSize: 256 } },
];

const TABLES: Partial<Record<DriverKind, Rule[]>> = { lavapipe: LAVAPIPE };

export function tunedPointwise(driver: DriverKind, s: PointwiseShape): GemmChoice {
  if (s.K % 4 !== 0) return { variant: 'naive', workgroupSize: 64 };
  const rules = TABLES[driver] ?? LAVAPIPE;
  const rule = rules.find((r) => s.M <= r.maxRows)!;
  return pointwiseVariantSupported(s, rule.choice.variant) ? rule.choice : { variant: 'blocked4x1', workgroupSize: 64 };
}
