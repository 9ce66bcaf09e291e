/**
 * Seeded mutation fuzzing for the file readers: a byte mutator aimed at the integer fields a
 * reader follows (offsets, lengths, vtable entries, declared sizes), a structural JSON mutator,
 * and an allocation guard that catches an allocation sized by an unchecked header field before it
 * happens. Every case draws from its own stream (campaign seed, target, case index), so any one
 * case replays alone.
 */
import { rng } from './ssd_cases.ts';

export class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

/** FNV-1a over "seed/target/index": independent streams per case. */
export function caseSeed(seed: number, target: string, index: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}/${target}/${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** An integer field a reader follows: where it is, how wide, and its byte order. */
export interface Field {
  pos: number;
  width: 1 | 2 | 4 | 8;
  littleEndian: boolean;
}

export interface Mutant {
  bytes: Uint8Array;
  /** What was done, for the failure report. */
  what: string;
}

/** Bytes to keep at the start of a random file, so it still reaches the format's parser. */
const MAGIC_BYTES = 8;

export type MutationKind =
  'field' | 'fields' | 'truncate' | 'flip' | 'flip-near-field' | 'run' | 'insert' | 'delete' | 'random';

/**
 * One mutation of `seed`: mostly aimed at `fields` when there are any (a field set to an extreme,
 * an offset pushed past the end, a length made huge), otherwise truncations, bit flips, random
 * runs, byte-run insertions and deletions, or a whole file of random bytes. `only` restricts the
 * kinds drawn.
 */
export function mutateBytes(
  seed: Uint8Array,
  fields: readonly Field[],
  r: Random,
  only?: readonly MutationKind[],
): Mutant {
  const all: [MutationKind, number][] = [
    ['field', fields.length ? 30 : 0],
    ['fields', fields.length ? 10 : 0],
    ['truncate', 12],
    ['flip', 18],
    ['flip-near-field', fields.length ? 8 : 0],
    ['run', 8],
    ['insert', 6],
    ['delete', 6],
    ['random', 2],
  ];
  const kinds = only ? all.filter(([k]) => only.includes(k)) : all;
  const total = kinds.reduce((s, [, w]) => s + w, 0);
  let x = r.float() * total;
  const kind = kinds.find(([, w]) => (x -= w) < 0)![0];
  const n = seed.length;
  switch (kind) {
    case 'field': {
      const out = seed.slice();
      return { bytes: out, what: setField(out, r.pick(fields), r) };
    }
    case 'fields': {
      const out = seed.slice();
      const whats = Array.from({ length: 2 + r.int(3) }, () => setField(out, r.pick(fields), r));
      return { bytes: out, what: whats.join('; ') };
    }
    case 'truncate': {
      // Half the cuts land right inside a field, where a reader is mid-structure.
      const f = fields.length && r.chance(0.5) ? r.pick(fields) : undefined;
      const at = f ? f.pos + r.int(f.width) : r.int(n);
      return { bytes: seed.subarray(0, at), what: `truncate to ${at} of ${n} bytes` };
    }
    case 'flip':
    case 'flip-near-field': {
      const out = seed.slice();
      const count = 1 + r.int(8);
      const at: number[] = [];
      for (let k = 0; k < count; k++) {
        const p = kind === 'flip' ? r.int(n) : clamp(r.pick(fields).pos + r.int(16) - 4, 0, n - 1);
        out[p]! ^= 1 << r.int(8);
        at.push(p);
      }
      return { bytes: out, what: `${kind} at ${at.join(',')}` };
    }
    case 'run': {
      const out = seed.slice();
      const at = r.int(n);
      const len = Math.min(1 + r.int(64), n - at);
      const fill = r.pick(['random', 0x00, 0xff] as const);
      out.set(fill === 'random' ? r.bytes(len) : new Uint8Array(len).fill(fill), at);
      return { bytes: out, what: `overwrite ${len} bytes at ${at} with ${fill}` };
    }
    case 'insert': {
      const at = r.int(n + 1);
      const len = 1 + r.int(64);
      // A copy of bytes from elsewhere in the file duplicates structure; random bytes do not.
      const src = r.int(Math.max(1, n - len));
      const run = r.chance(0.5) ? seed.slice(src, src + len) : r.bytes(len);
      return {
        bytes: concat([seed.subarray(0, at), run, seed.subarray(at)]),
        what: `insert ${run.length} bytes at ${at}`,
      };
    }
    case 'delete': {
      const at = r.int(n);
      const len = 1 + r.int(64);
      return { bytes: concat([seed.subarray(0, at), seed.subarray(at + len)]), what: `delete ${len} bytes at ${at}` };
    }
    default: {
      const len = r.int(Math.min(n, 4096) + 1);
      const out = r.bytes(len);
      const keep = r.chance(0.5) ? Math.min(MAGIC_BYTES, len) : 0;
      out.set(seed.subarray(0, keep));
      return { bytes: out, what: `random ${len} bytes${keep ? ' after the magic' : ''}` };
    }
  }
}

/**
 * Sets one field to a value chosen to break its reader: extremes of its width, sizes near 2^31
 * and 2^32, targets at and just past the end of the file (as an offset from the field, or from
 * the start), and small perturbations of the value it held.
 */
function setField(out: Uint8Array, f: Field, r: Random): string {
  if (f.pos + f.width > out.length) return `field at ${f.pos} is past the end`;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const old = readField(view, f);
  const n = out.length;
  const d = r.int(17) - 8;
  const choices = [
    0,
    1,
    -1,
    2 ** (8 * f.width - 1) - 1,
    -(2 ** (8 * f.width - 1)),
    2 ** 30,
    2 ** 31 - 1,
    2 ** 32 - 1,
    2 ** 32,
    n - f.pos + d,
    f.pos - n + d,
    n + d,
    -f.pos + d,
    old + d,
    old * 2,
    old * 256,
    Math.floor(old / 2),
    old ^ (1 << r.int(8 * Math.min(f.width, 4))),
    r.int(2 ** 32),
  ];
  const v = r.pick(choices);
  writeField(view, f, v);
  return `u${8 * f.width} at ${f.pos}: ${old} -> ${readField(view, f)}`;
}

function readField(view: DataView, f: Field): number {
  switch (f.width) {
    case 1:
      return view.getUint8(f.pos);
    case 2:
      return view.getUint16(f.pos, f.littleEndian);
    case 4:
      return view.getUint32(f.pos, f.littleEndian);
    case 8:
      return Number(view.getBigUint64(f.pos, f.littleEndian));
  }
}

function writeField(view: DataView, f: Field, v: number): void {
  // Two's complement in the field's width: negative values wrap the way a C reader would see them.
  const bits = BigInt.asUintN(8 * f.width, BigInt(Math.trunc(v)));
  switch (f.width) {
    case 1:
      return view.setUint8(f.pos, Number(bits));
    case 2:
      return view.setUint16(f.pos, Number(bits), f.littleEndian);
    case 4:
      return view.setUint32(f.pos, Number(bits), f.littleEndian);
    case 8:
      return view.setBigUint64(f.pos, bits, f.littleEndian);
  }
}

/** Keys whose values size or place something: the mutator aims at them first. */
const SIZE_KEYS = /shape|offset|length|size|width|height|count|axis|strides|min|max|scale/i;
const JSON_NUMBERS = [0, -1, 1, 0.5, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, -1e308, 1e-320, 1073741824];

/**
 * One to three structural edits of a JSON document (a number made huge, negative or fractional; a
 * value replaced by another type; a key deleted; an array element duplicated; a string made long
 * or path-like), or a text-level cut or byte flip. Invalid JSON is a fine outcome too.
 */
export function mutateJson(text: string, r: Random): Mutant {
  if (r.chance(0.15)) {
    const bytes = new TextEncoder().encode(text);
    const m = mutateBytes(bytes, [], r);
    return { bytes: m.bytes, what: `text: ${m.what}` };
  }
  const doc = JSON.parse(text) as unknown;
  const root = { doc };
  const whats: string[] = [];
  for (let k = 0, edits = 1 + r.int(3); k < edits; k++) whats.push(editJson(root, r));
  return { bytes: new TextEncoder().encode(JSON.stringify(root.doc)), what: whats.join('; ') };
}

interface Slot {
  parent: Record<string, unknown> | unknown[];
  key: string | number;
  path: string;
}

function editJson(root: { doc: unknown }, r: Random): string {
  const slots: Slot[] = [];
  const walk = (v: unknown, parent: Slot['parent'], key: string | number, path: string) => {
    slots.push({ parent, key, path });
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, v, i, `${path}[${i}]`));
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) walk(x, v as Record<string, unknown>, k, `${path}.${k}`);
  };
  walk(root.doc, root, 'doc', '$');
  const get = (s: Slot) => (s.parent as Record<string | number, unknown>)[s.key];
  const set = (s: Slot, v: unknown) => ((s.parent as Record<string | number, unknown>)[s.key] = v);
  const sized = slots.filter((s) => typeof get(s) === 'number' && SIZE_KEYS.test(s.path));
  const s = sized.length && r.chance(0.5) ? r.pick(sized) : r.pick(slots);
  const v = get(s);
  const op = r.int(6);
  if (typeof v === 'number' && op < 3) {
    const nv = r.pick([...JSON_NUMBERS, v + 1, v - 1, v * 1024, -v]);
    set(s, nv);
    return `${s.path}: ${v} -> ${nv}`;
  }
  if (typeof v === 'string' && op < 2) {
    const nv = r.pick([
      '',
      '..',
      '../../etc/passwd',
      '/abs',
      'C:\\x',
      v + v,
      'x'.repeat(10000),
      '__proto__',
      `${v}\u0000`,
    ]);
    set(s, nv);
    return `${s.path}: string -> ${JSON.stringify(nv.slice(0, 24))}`;
  }
  switch (op) {
    case 3:
      if (Array.isArray(s.parent)) {
        s.parent.splice(Number(s.key), 1);
        return `${s.path}: removed`;
      }
      if (s.path !== '$') {
        delete s.parent[s.key as string];
        return `${s.path}: deleted`;
      }
      return 'no-op';
    case 4:
      if (Array.isArray(v) && v.length) {
        const copies = r.pick([1, 2, 100]);
        v.push(...Array.from({ length: copies }, () => structuredClone(v[r.int(v.length)])));
        return `${s.path}: ${copies} elements duplicated`;
      }
      return replaceValue(s, r);
    default:
      return replaceValue(s, r);
  }
}

function replaceValue(s: Slot, r: Random): string {
  const nv = r.pick([null, true, 0, 'x', [], {}, [1, 2, 3], { a: 1 }]);
  (s.parent as Record<string | number, unknown>)[s.key] = nv;
  return `${s.path}: -> ${JSON.stringify(nv)}`;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------- allocation guard

const TYPED_ARRAYS = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

/** Thrown inside the code under test when it asks for more memory than the case allows. */
export class AllocationLimitError extends Error {
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`${what} of ${bytes} bytes exceeds the per-case allocation limit of ${limit}`);
    this.name = 'AllocationLimitError';
  }
}

/**
 * Replaces the global typed-array, ArrayBuffer and Array constructors and Buffer's allocators with
 * checked versions, in this thread only (a fuzz worker). Code under test looks these globals up at
 * each call, so `new Float32Array(headerCount)` is checked against `limit` before any memory is
 * taken: an unchecked header-driven allocation trips the guard instead of the machine. Callers
 * that swallow the thrown error are still caught: `tripped` keeps the first violation.
 */
export class AllocationGuard {
  limit = Infinity;
  largest = 0;
  tripped: AllocationLimitError | undefined;
  private readonly restore: (() => void)[] = [];

  install(): this {
    const g = globalThis as unknown as Record<string, unknown>;
    const replace = (owner: Record<string, unknown>, name: string, value: unknown) => {
      const original = owner[name];
      owner[name] = value;
      this.restore.push(() => (owner[name] = original));
    };
    for (const name of TYPED_ARRAYS) {
      const C = g[name] as { BYTES_PER_ELEMENT: number } & (new (...a: unknown[]) => object);
      replace(
        g,
        name,
        this.checkedConstructor(C, name, (args) => (typeof args[0] === 'number' ? args[0] * C.BYTES_PER_ELEMENT : 0)),
      );
    }
    for (const name of ['ArrayBuffer', 'SharedArrayBuffer']) {
      const C = g[name] as new (...a: unknown[]) => object;
      replace(
        g,
        name,
        this.checkedConstructor(C, name, (args) => (typeof args[0] === 'number' ? args[0] : 0)),
      );
    }
    // A JS array of n holes costs about 8 bytes per element once filled.
    replace(
      g,
      'Array',
      this.checkedConstructor(Array, 'Array', (args) =>
        args.length === 1 && typeof args[0] === 'number' ? args[0] * 8 : 0,
      ),
    );
    const B = Buffer as unknown as Record<string, (size: number, ...rest: unknown[]) => Buffer>;
    for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow']) {
      const original = B[name]!;
      replace(B, name, (size: number, ...rest: unknown[]) => {
        this.check(`Buffer.${name}`, size);
        return original.call(Buffer, size, ...rest);
      });
    }
    return this;
  }

  uninstall(): void {
    for (const undo of this.restore.splice(0).reverse()) undo();
  }

  /** Starts a case: a new limit, and the record of the previous case forgotten. */
  reset(limit: number): void {
    this.limit = limit;
    this.largest = 0;
    this.tripped = undefined;
  }

  check(what: string, bytes: number): void {
    if (!(bytes > this.largest)) return;
    this.largest = bytes;
    if (bytes > this.limit) {
      const e = new AllocationLimitError(what, bytes, this.limit);
      this.tripped ??= e;
      throw e;
    }
  }

  private checkedConstructor<C extends new (...a: unknown[]) => object>(
    C: C,
    name: string,
    bytesOf: (args: unknown[]) => number,
  ): C {
    const check = (args: unknown[]) => this.check(`new ${name}`, bytesOf(args));
    const proxy: C = new Proxy(C, {
      construct(target, args, newTarget) {
        check(args);
        return Reflect.construct(target, args, newTarget === proxy ? target : newTarget);
      },
      // Array(n) without `new` allocates too.
      apply(target, thisArg, args) {
        check(args);
        return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
      },
    });
    return proxy;
  }
}
