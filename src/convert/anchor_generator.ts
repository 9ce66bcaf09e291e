/**
 * Which generator made a model's stored anchors. A generator is recorded only when it reproduces the
 * stored table within its storage precision, so that resizing the model later regenerates the very
 * anchors it was trained with rather than a guess.
 */
import type { AnchorGeneratorSpec } from '../graph/ir.ts';
import { gridAnchors } from '../ssd/anchors.ts';
import type { GridAnchorOptions } from '../core/model_spec.ts';

/** float32 anchors computed in float32 by their exporter differ from ours by a few ulps of 1. */
export const FLOAT_ANCHOR_TOLERANCE = 1e-6;

export function matchingGridGenerator(
  stored: ArrayLike<number>,
  options: GridAnchorOptions,
  tolerance: number,
): AnchorGeneratorSpec | undefined {
  let generated: Float32Array;
  try {
    generated = gridAnchors(options);
  } catch {
    return undefined;
  }
  if (generated.length !== stored.length) return undefined;
  for (let i = 0; i < generated.length; i++) if (!(Math.abs(generated[i]! - stored[i]!) <= tolerance)) return undefined;
  return { kind: 'grid', options };
}
