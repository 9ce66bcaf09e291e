import { ModelFormatError } from '../errors.ts';

/** Type checks for untrusted JSON that fail with a ModelFormatError naming the file. */
export class Checker {
  constructor(readonly file: string) {}

  fail(problem: string): never {
    throw new ModelFormatError(this.file, problem);
  }
  obj(v: unknown, what: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(`${what} is missing or not an object`);
    return v as Record<string, unknown>;
  }
  arr(v: unknown, what: string): unknown[] {
    if (!Array.isArray(v)) this.fail(`${what} is missing or not an array`);
    return v;
  }
  str(v: unknown, what: string): string {
    if (typeof v !== 'string') this.fail(`${what} is missing or not a string`);
    return v;
  }
  num(v: unknown, what: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${what} is missing or not a finite number`);
    return v;
  }
  int(v: unknown, what: string, min: number): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
      this.fail(`${what} is ${JSON.stringify(v)}, expected an integer >= ${min}`);
    return v;
  }
  shape(v: unknown, what: string): number[] {
    const s = this.arr(v, what).map((d, i) => this.int(d, `${what}[${i}]`, 1));
    if (s.length > 8) this.fail(`${what} has rank ${s.length}`);
    return s;
  }
}
