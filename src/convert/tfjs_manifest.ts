/**
 * TF.js weights manifests (`*-weights_manifest.json` + binary shards): groups of weights stored
 * back to back across each group's shards, as float32/int32, or uint8/uint16 affine-quantized
 * (value = q * scale + min). Everything read from the manifest is checked against the shard bytes
 * that exist; problems are TfjsFormatErrors naming the manifest.
 */
import { TfjsFormatError } from '../errors.ts';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8' | 'uint16'; scale: number; min: number };
}

export interface TfjsWeightGroup {
  /** Shard file names, relative to the manifest. */
  paths: string[];
  weights: TfjsWeightSpec[];
}

export interface TfjsTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  /** int32 tensors decode to whole numbers. */
  data: Float32Array;
}

const MAX_RANK = 8;

/** Parses and type-checks a manifest; shard paths may not leave the manifest's folder. */
export function parseTfjsManifest(text: string, file: string): TfjsWeightGroup[] {
  const fail = (problem: string): never => {
    throw new TfjsFormatError(file, problem);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(raw)) return fail('the manifest is not an array of weight groups');
  return raw.map((g: unknown, gi): TfjsWeightGroup => {
    const group = g as { paths?: unknown; weights?: unknown } | null;
    if (!group || typeof group !== 'object' || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      return fail(`group ${gi} needs "paths" and "weights" arrays`);
    const paths = group.paths.map((p: unknown) => {
      if (typeof p !== 'string' || !p || p.startsWith('/') || p.split(/[\\/]/).includes('..') || p.includes(':'))
        return fail(`group ${gi} has an invalid shard path ${JSON.stringify(p)}`);
      return p;
    });
    const weights = group.weights.map((w: unknown, wi): TfjsWeightSpec => {
      const e = w as Record<string, unknown> | null;
      const what = `group ${gi} weight ${wi}`;
      if (!e || typeof e !== 'object' || typeof e.name !== 'string') return fail(`${what} has no name`);
      const shape = e.shape;
      if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        return fail(`${e.name}: invalid shape ${JSON.stringify(shape)}`);
      if (e.dtype !== 'float32' && e.dtype !== 'int32')
        return fail(`${e.name}: dtype ${JSON.stringify(e.dtype)} is not supported (float32, int32)`);
      const spec: TfjsWeightSpec = { name: e.name, shape: shape as number[], dtype: e.dtype };
      if (e.quantization !== undefined) {
        const q = e.quantization as Record<string, unknown> | null;
        if (!q || (q.dtype !== 'uint8' && q.dtype !== 'uint16'))
          return fail(`${e.name}: quantization ${JSON.stringify(q?.dtype)} is not supported (uint8, uint16)`);
        if (
          typeof q.scale !== 'number' ||
          typeof q.min !== 'number' ||
          !Number.isFinite(q.scale) ||
          !Number.isFinite(q.min)
        )
          return fail(`${e.name}: quantization needs finite scale and min`);
        spec.quantization = { dtype: q.dtype, scale: q.scale, min: q.min };
      }
      return spec;
    });
    return { paths, weights };
  });
}

/**
 * Decodes every weight. `shards` holds the bytes of each group's paths, in manifest order
 * (all groups' paths flattened).
 */
export function decodeTfjsWeights(
  groups: TfjsWeightGroup[],
  shards: Uint8Array[],
  file: string,
): Map<string, TfjsTensor> {
  const expected = groups.reduce((n, g) => n + g.paths.length, 0);
  if (shards.length !== expected)
    throw new TfjsFormatError(file, `${shards.length} shards given for ${expected} paths`);
  const out = new Map<string, TfjsTensor>();
  let shard = 0;
  for (const g of groups) {
    const parts = shards.slice(shard, shard + g.paths.length);
    shard += g.paths.length;
    const bytes = parts.length === 1 ? parts[0]! : concatBytes(parts);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    for (const w of g.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const width = w.quantization ? (w.quantization.dtype === 'uint8' ? 1 : 2) : 4;
      if (count * width > bytes.byteLength - at) {
        throw new TfjsFormatError(
          file,
          `${w.name} needs ${count * width} bytes at offset ${at}, but the shards of its group hold ${bytes.byteLength}`,
        );
      }
      if (out.has(w.name)) throw new TfjsFormatError(file, `${w.name} appears twice`);
      const data = new Float32Array(count);
      const q = w.quantization;
      for (let i = 0; i < count; i++) {
        const p = at + i * width;
        const v = !q
          ? w.dtype === 'int32'
            ? view.getInt32(p, true)
            : view.getFloat32(p, true)
          : (width === 1 ? view.getUint8(p) : view.getUint16(p, true)) * q.scale + q.min;
        data[i] = q && w.dtype === 'int32' ? Math.round(v) : v;
      }
      out.set(w.name, { shape: w.shape, dtype: w.dtype, data });
      at += count * width;
    }
  }
  return out;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
