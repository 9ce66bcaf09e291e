/**
 * Builds the feature cache: for every image, `versions` network inputs (the first one as
 * inference sees it, the others augmented), their targets, and the frozen network's cut tensors.
 */
import type { LoadedModel } from '../graph/weights.ts';
import { constData } from '../graph/weights.ts';
import { augment, NO_AUGMENTATION, type AugmentOptions } from './data.ts';
import { loadImage, type TrainingImage } from './dataset.ts';
import { cacheSample, retarget, type CachedSample, type FeatureCache, type FeatureExtractor } from './features.ts';
import { anchorCorners } from './match.ts';
import type { Rng } from './rng.ts';
import { buildTargets } from './targets.ts';

export interface CacheOptions {
  versions: number;
  augment: AugmentOptions;
  /** IoU above which a default box matches a ground truth (0.5). */
  matchThreshold: number;
}

/** Samples per image, per version. Calls `onImage` after each image. */
export async function buildCache(
  extractor: FeatureExtractor,
  model: LoadedModel,
  images: readonly TrainingImage[],
  o: CacheOptions,
  rng: Rng,
  onImage?: () => void,
): Promise<CachedSample[][]> {
  const anchors = constData(model, model.json.ssd.anchors).data;
  const corners = anchorCorners(anchors);
  const spec = model.json.preprocess;
  const out: CachedSample[][] = [];
  for (const item of images) {
    const sample = await loadImage(item);
    const versions = Array.from({ length: o.versions }, (_, v) =>
      augment(sample, spec, rng, v === 0 ? NO_AUGMENTATION : o.augment),
    );
    const samples: CachedSample[] = [];
    for (let at = 0; at < versions.length; at += extractor.batch) {
      const chunk = versions.slice(at, at + extractor.batch);
      const features = await extractor.run(chunk.map((v) => v.input));
      chunk.forEach((v, i) =>
        samples.push(
          cacheSample(
            features[i]!,
            buildTargets(anchors, v.truth, model.json.ssd.scales, o.matchThreshold, corners),
            v.truth,
          ),
        ),
      );
    }
    out.push(samples);
    onImage?.();
  }
  return out;
}

/** The cache's samples with targets for `model`'s default boxes at `threshold`; the features are shared, not copied. */
export function retargetCache(cache: FeatureCache, model: LoadedModel, threshold: number): FeatureCache {
  const anchors = constData(model, model.json.ssd.anchors).data;
  const corners = anchorCorners(anchors);
  const again = (images: CachedSample[][]) =>
    images.map((versions) => versions.map((s) => retarget(s, anchors, model.json.ssd.scales, threshold, corners)));
  return { cuts: cache.cuts, train: again(cache.train), val: again(cache.val) };
}
