/**
 * CPU reference (float64) of the SSD training objective and its gradient, the semantics the GPU
 * loss kernel (loss.ts) reproduces:
 *
 *   L = (L_conf + alpha * L_loc) / N
 *
 * N is the number of matched default boxes in the whole batch (the caller passes 1/N, so that
 * micro-batches of one optimizer step share it). L_loc is the smooth L1 loss (beta 1) between the
 * predicted and target encodings of the matched boxes. L_conf is the softmax cross-entropy of the
 * matched boxes against their class plus, for each image, that of the hardest negatives against
 * the background column 0: the 3 x (its matched boxes) unmatched boxes with the largest background
 * loss, ties to the lower default box.
 *
 * With `focal` (RetinaNet's focal loss, Lin et al. 2017, on the softmax), L_conf has no mining: every
 * default box adds -w (1 - p_t)^gamma log p_t, p_t the softmax probability of its target column
 * (background for an unmatched box) and w = focalAlpha for a matched box, 1 - focalAlpha for an
 * unmatched one. Easy negatives fade by (1 - p_t)^gamma instead of being cut at 3 per match, so no
 * rare class or anchor slot can be swamped by the negatives that mining picks around it.
 */

export interface LossConfig {
  numAnchors: number;
  numClasses: number;
  /** Hard negatives kept per matched box (3 in SSD). */
  negPerPos: number;
  /** Weight of the localization loss (1 in SSD). */
  alpha: number;
  /** 1 / (matched boxes in the optimizer step's batch). */
  invN: number;
  /** Focal loss on every default box in place of hard-negative mining (negPerPos unused). */
  focal?: FocalLoss;
}

export interface FocalLoss {
  /** Focusing exponent (2 in RetinaNet); 0 is alpha-weighted cross-entropy on every box. */
  gamma: number;
  /** Weight of the matched boxes; unmatched ones get 1 - alpha (0.25 in RetinaNet). */
  alpha: number;
}

export const CONF_LOSSES = ['mining', 'focal'] as const;
export type ConfLoss = (typeof CONF_LOSSES)[number];
export const DEFAULT_FOCAL: FocalLoss = { gamma: 2, alpha: 0.25 };

/**
 * The focal loss of one box and the factor g of its gradient: dL/dz_c = g (p_c - [c = t]).
 * lpt = log p_t. (1 - p_t)^(gamma - 1) is only formed where 1 - p_t > 0, where it is finite.
 */
export function focalTerm(lpt: number, f: FocalLoss, matched: boolean): { loss: number; g: number } {
  const w = matched ? f.alpha : 1 - f.alpha;
  const pt = Math.exp(lpt);
  const q = Math.max(1 - pt, 0);
  if (q === 0) return { loss: 0, g: 0 };
  const qg = q ** f.gamma;
  return { loss: -w * qg * lpt, g: w * (qg - f.gamma * q ** (f.gamma - 1) * pt * lpt) };
}

/** Unnormalized sums for one image: L = invN * (confPos + confNeg + alpha * loc) summed over images. */
export interface LossParts {
  confPos: number;
  confNeg: number;
  loc: number;
  positives: number;
  negatives: number;
}

export interface LossResult {
  parts: LossParts[];
  /** dL/dlogits [B, A, C] and dL/dboxes [B, A, 4]. */
  dLogits: Float64Array;
  dBoxes: Float64Array;
}

export function smoothL1(d: number): number {
  const a = Math.abs(d);
  return a < 1 ? 0.5 * d * d : a - 0.5;
}

export function smoothL1Grad(d: number): number {
  return Math.abs(d) < 1 ? d : Math.sign(d);
}

/** The total loss from per-image parts. */
export function totalLoss(parts: readonly LossParts[], cfg: Pick<LossConfig, 'alpha' | 'invN'>): number {
  return parts.reduce((s, p) => s + p.confPos + p.confNeg + cfg.alpha * p.loc, 0) * cfg.invN;
}

export function ssdLossRef(
  logits: ArrayLike<number>,
  boxes: ArrayLike<number>,
  labels: ArrayLike<number>,
  targets: ArrayLike<number>,
  batch: number,
  cfg: LossConfig,
): LossResult {
  const { numAnchors: A, numClasses: C } = cfg;
  const dLogits = new Float64Array(batch * A * C);
  const dBoxes = new Float64Array(batch * A * 4);
  const parts: LossParts[] = [];
  const probs = new Float64Array(C);
  for (let b = 0; b < batch; b++) {
    const lse = new Float64Array(A);
    const negatives: number[] = [];
    const part: LossParts = { confPos: 0, confNeg: 0, loc: 0, positives: 0, negatives: 0 };
    for (let a = 0; a < A; a++) {
      const row = (b * A + a) * C;
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, logits[row + c]!);
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(logits[row + c]! - m);
      lse[a] = m + Math.log(s);
      if (labels[b * A + a]! > 0) part.positives++;
      else negatives.push(a);
    }
    const key = (a: number) => Math.max(lse[a]! - logits[(b * A + a) * C]!, 0);
    negatives.sort((p, q) => key(q) - key(p) || p - q);
    const mined = cfg.focal ? negatives.length : Math.min(cfg.negPerPos * part.positives, negatives.length);
    const chosen = negatives.slice(0, mined);
    part.negatives = chosen.length;
    const selected = new Set(chosen);
    for (let a = 0; a < A; a++) {
      const label = labels[b * A + a]!;
      if (label === 0 && !selected.has(a)) continue;
      const row = (b * A + a) * C;
      for (let c = 0; c < C; c++) probs[c] = Math.exp(logits[row + c]! - lse[a]!);
      const focal = cfg.focal && focalTerm(logits[row + label]! - lse[a]!, cfg.focal, label > 0);
      const g = focal ? focal.g : 1;
      for (let c = 0; c < C; c++) dLogits[row + c] = cfg.invN * g * (probs[c]! - (c === label ? 1 : 0));
      if (label === 0) {
        part.confNeg += focal ? focal.loss : key(a);
        continue;
      }
      part.confPos += focal ? focal.loss : lse[a]! - logits[row + label]!;
      for (let m = 0; m < 4; m++) {
        const d = boxes[(b * A + a) * 4 + m]! - targets[(b * A + a) * 4 + m]!;
        part.loc += smoothL1(d);
        dBoxes[(b * A + a) * 4 + m] = cfg.invN * cfg.alpha * smoothL1Grad(d);
      }
    }
    parts.push(part);
  }
  return { parts, dLogits, dBoxes };
}
