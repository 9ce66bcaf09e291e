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
    const chosen = negatives.slice(0, Math.min(cfg.negPerPos * part.positives, negatives.length));
    part.negatives = chosen.length;
    const selected = new Set(chosen);
    for (let a = 0; a < A; a++) {
      const label = labels[b * A + a]!;
      if (label === 0 && !selected.has(a)) continue;
      const row = (b * A + a) * C;
      for (let c = 0; c < C; c++) probs[c] = Math.exp(logits[row + c]! - lse[a]!);
      for (let c = 0; c < C; c++) dLogits[row + c] = cfg.invN * (probs[c]! - (c === label ? 1 : 0));
      if (label === 0) {
        part.confNeg += key(a);
        continue;
      }
      part.confPos += lse[a]! - logits[row + label]!;
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
