/**
 * One schema object per uniform struct: it produces the WGSL struct text and packs values with the
 * same offsets, so the two can never drift apart. Layout follows the WGSL rules for the uniform
 * address space (align/size per type; struct size rounded up to a multiple of 16).
 */
export type UniformType =
  'u32' | 'i32' | 'f32' | 'vec2u' | 'vec2i' | 'vec2f' | 'vec3u' | 'vec3i' | 'vec3f' | 'vec4u' | 'vec4i' | 'vec4f';

const layoutOf: Record<
  UniformType,
  { align: number; size: number; scalar: 'u32' | 'i32' | 'f32'; count: number; wgsl: string }
> = {
  u32: { align: 4, size: 4, scalar: 'u32', count: 1, wgsl: 'u32' },
  i32: { align: 4, size: 4, scalar: 'i32', count: 1, wgsl: 'i32' },
  f32: { align: 4, size: 4, scalar: 'f32', count: 1, wgsl: 'f32' },
  vec2u: { align: 8, size: 8, scalar: 'u32', count: 2, wgsl: 'vec2<u32>' },
  vec2i: { align: 8, size: 8, scalar: 'i32', count: 2, wgsl: 'vec2<i32>' },
  vec2f: { align: 8, size: 8, scalar: 'f32', count: 2, wgsl: 'vec2<f32>' },
  vec3u: { align: 16, size: 12, scalar: 'u32', count: 3, wgsl: 'vec3<u32>' },
  vec3i: { align: 16, size: 12, scalar: 'i32', count: 3, wgsl: 'vec3<i32>' },
  vec3f: { align: 16, size: 12, scalar: 'f32', count: 3, wgsl: 'vec3<f32>' },
  vec4u: { align: 16, size: 16, scalar: 'u32', count: 4, wgsl: 'vec4<u32>' },
  vec4i: { align: 16, size: 16, scalar: 'i32', count: 4, wgsl: 'vec4<i32>' },
  vec4f: { align: 16, size: 16, scalar: 'f32', count: 4, wgsl: 'vec4<f32>' },
};

type ValueOf<T extends UniformType> = T extends 'u32' | 'i32' | 'f32' ? number : readonly number[];
export type UniformValues<F extends Record<string, UniformType>> = { [K in keyof F]: ValueOf<F[K]> };

export interface UniformField {
  name: string;
  type: UniformType;
  offset: number;
}

export class UniformSchema<F extends Record<string, UniformType>> {
  readonly fields: readonly UniformField[];
  /** Byte size of the struct, a multiple of 16. */
  readonly size: number;
  /** `struct <name> { ... }` ready to be prepended to a shader. */
  readonly wgsl: string;

  constructor(
    readonly structName: string,
    spec: F,
  ) {
    const fields: UniformField[] = [];
    let offset = 0;
    for (const [name, type] of Object.entries(spec)) {
      const l = layoutOf[type];
      offset = Math.ceil(offset / l.align) * l.align;
      fields.push({ name, type, offset });
      offset += l.size;
    }
    this.fields = fields;
    this.size = Math.max(16, Math.ceil(offset / 16) * 16);
    this.wgsl = `struct ${structName} {\n${fields.map((f) => `  ${f.name}: ${layoutOf[f.type].wgsl},`).join('\n')}\n}\n`;
  }

  /** Packs values into `target` at byte `at` (or a fresh buffer) using the schema's offsets. */
  pack(values: UniformValues<F>, target?: ArrayBuffer, at = 0): ArrayBuffer {
    const buf = target ?? new ArrayBuffer(this.size);
    const view = new DataView(buf, at, this.size);
    for (const f of this.fields) {
      const l = layoutOf[f.type];
      const v = (values as Record<string, number | readonly number[]>)[f.name];
      const arr = typeof v === 'number' ? [v] : v;
      if (arr === undefined || arr.length !== l.count) {
        throw new RangeError(
          `uniform ${this.structName}.${f.name}: expected ${l.count} value(s), got ${JSON.stringify(v)}`,
        );
      }
      for (let i = 0; i < l.count; i++) {
        const x = arr[i]!;
        const o = f.offset + 4 * i;
        if (l.scalar === 'f32') view.setFloat32(o, x, true);
        else if (l.scalar === 'i32') {
          if (!Number.isInteger(x) || x < -(2 ** 31) || x >= 2 ** 31)
            throw new RangeError(`uniform ${this.structName}.${f.name}: ${x} is not an i32`);
          view.setInt32(o, x, true);
        } else {
          if (!Number.isInteger(x) || x < 0 || x >= 2 ** 32)
            throw new RangeError(`uniform ${this.structName}.${f.name}: ${x} is not a u32`);
          view.setUint32(o, x, true);
        }
      }
    }
    return buf;
  }
}

export function uniformSchema<F extends Record<string, UniformType>>(structName: string, spec: F): UniformSchema<F> {
  return new UniformSchema(structName, spec);
}
