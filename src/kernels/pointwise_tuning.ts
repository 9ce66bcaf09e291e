/**
 * Which GEMM tile and workgroup size to use for a 1x1 convolution, per adapter kind: a small table
 * from measurement, not a guess. Evidence: results/gemm_tuning_<driver>.md, made by
 * bench/gemm_tune.ts (every tile x workgroup size on every 1x1 layer of the bundled models).
 */
import type { SubgroupSizes } from '../gpu/context.ts';
import type { DriverKind } from '../gpu/provider.ts';
import {
  pointwiseSubgroupReady,
  pointwiseVariantSupported,
  type PointwiseShape,
  type PointwiseVariant,
} from './pointwise_conv2d.ts';
import { isDwpwVariant } from './dwpw_conv2d.ts';
import type { FusedChoice } from './dwpw_tuning.ts';

export interface GemmChoice {
  variant: PointwiseVariant;
  workgroupSize: number;
}

interface Rule {
  /** The rule applies to GEMMs with at most this many rows (pixels). */
  maxRows: number;
  choice: GemmChoice;
  /** The choice on devices where this subgroup variant is correct (pointwiseSubgroupReady). */
  withSubgroups?: GemmChoice;
}

// lavapipe (Mesa 25, AVX2): 8x2 tiles in 256-wide workgroups won overall (763 ms vs 945 for 4x1 on
// all 1x1 layers of oid-v4 + face); layers of a handful of pixels prefer small tiles, which waste
// no rows. The hand-unrolled tiles lose here (1305 ms vs 999 for blocked8x2 in one run,
// results/gemm_tuning_lavapipe_unrolled.md): LLVM unrolls the array tiles itself.
// With subgroups (8 lanes), the same tile sharing its input rows across the subgroup took 0.75-0.77x of
// blocked8x2 wg256's time over those layers in two interleaved runs (results/gemm_subgroups_lavapipe.md).
const LAVAPIPE: Rule[] = [
  { maxRows: 64, choice: { variant: 'blocked4x1', workgroupSize: 32 } },
  {
    maxRows: Infinity,
    choice: { variant: 'blocked8x2', workgroupSize: 256 },
    withSubgroups: { variant: 'subgroup8x2', workgroupSize: 32 },
  },
];

// SwiftShader: its JIT keeps array tiles in memory, so only the hand-unrolled tiles run well (3011
// ms for unrolled8x2 wg64 vs 24430 for the best array tile, results/gemm_tuning_swiftshader.md);
// the few-pixel layers of the last feature maps prefer 4-row tiles. The subgroup tiles are array tiles too,
// and lost to unrolled8x2 here (results/gemm_subgroups_swiftshader.md).
const SWIFTSHADER: Rule[] = [
  { maxRows: 64, choice: { variant: 'unrolled4x2', workgroupSize: 64 } },
  { maxRows: Infinity, choice: { variant: 'unrolled8x2', workgroupSize: 64 } },
];

// Hardware adapters use the lavapipe table until measured there, without its subgroup choice: a subgroup
// kernel is the default only where it measured no slower.
const OTHERS: Rule[] = LAVAPIPE.map((r) => ({ maxRows: r.maxRows, choice: r.choice }));
const TABLES: Partial<Record<DriverKind, Rule[]>> = { lavapipe: LAVAPIPE, swiftshader: SWIFTSHADER };

/**
 * A GEMM configuration per shape (gemmShapeKey), e.g. what the load-time autotuner measured; and per
 * depthwise + 1x1 pair (dwpwShapeKey), the fused kernel's configuration where it was picked over the pair.
 */
export type GemmPlan = ReadonlyMap<string, GemmChoice | FusedChoice>;

export function isGemmChoice(c: GemmChoice | FusedChoice): c is GemmChoice {
  return !isDwpwVariant(c.variant);
}

export function gemmShapeKey(s: PointwiseShape): string {
  return `${s.M}x${s.K}x${s.N}`;
}

/** The plan's choice for `s` when it has one this shape supports, else the table's. */
export function plannedPointwise(
  driver: DriverKind,
  s: PointwiseShape,
  plan?: GemmPlan,
  subgroups?: SubgroupSizes,
): GemmChoice {
  const planned = plan?.get(gemmShapeKey(s));
  return planned && isGemmChoice(planned) && pointwiseVariantSupported(s, planned.variant) && runs(planned, subgroups)
    ? planned
    : tunedPointwise(driver, s, subgroups);
}

/** False for a subgroup variant this device cannot run (a plan stored before its subgroups were known). */
function runs(c: GemmChoice, subgroups: SubgroupSizes | undefined): boolean {
  return !c.variant.startsWith('subgroup') || pointwiseSubgroupReady(subgroups, c.workgroupSize);
}

export function tunedPointwise(driver: DriverKind, s: PointwiseShape, subgroups?: SubgroupSizes): GemmChoice {
  if (s.K % 4 !== 0) return { variant: 'naive', workgroupSize: 64 };
  const rules = TABLES[driver] ?? OTHERS;
  const rule = rules.find((r) => s.M <= r.maxRows)!;
  const choice = rule.withSubgroups && runs(rule.withSubgroups, subgroups) ? rule.withSubgroups : rule.choice;
  return pointwiseVariantSupported(s, choice.variant) ? choice : { variant: 'blocked4x1', workgroupSize: 64 };
}
