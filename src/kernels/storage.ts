/**
 * The storage type of a float graph's activations and weights: an init-time pipeline fact.
 *
 * A float shader declares every activation and weight buffer as `array<st>` or `array<st4>` and converts on
 * load (`f32(x[i])`, `vec4<f32>(w[j])`), accumulates in f32 and converts back on store (`st(v)`, `st4(v)`).
 * Workgroup-shared tiles and uniforms stay f32. `withStorage` puts the prelude first in the module (WGSL wants `enable`
 * before any declaration), then the uniform struct, then the .wgsl source. With 'f32' the conversions are
 * identities, so the f32 kernels are the ones they were. A shader opts in by calling `withStorage` and keying its
 * pipeline with the storage type (`.../${storage}/...`); training shaders stay f32.
 */
export type StorageType = 'f32' | 'f16';

/**
 * `code` (uniform struct + .wgsl source) opened with the storage prelude: `enable f16;` for f16, any `enable` the
 * code carries (subgroups) hoisted up with it, since WGSL wants directives before every declaration, then the aliases.
 */
export function withStorage(storage: StorageType, code: string): string {
  const enables: string[] = [];
  const rest = code.replace(/^enable [^;\n]+;\n/gm, (line) => {
    enables.push(line);
    return '';
  });
  const f16 = storage === 'f16' ? 'enable f16;\n' : '';
  return `${f16}${enables.join('')}alias st = ${storage};\nalias st4 = vec4<${storage}>;\n${rest}`;
}

/** Bytes per stored element. */
export function storageBytes(storage: StorageType): number {
  return storage === 'f16' ? 2 : 4;
}
