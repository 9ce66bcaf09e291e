import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniformSchema } from '../src/gpu/uniforms.ts';

test('uniform layout follows WGSL alignment: vec3 aligns to 16 and is 12 bytes, vec2 aligns to 8', () => {
  const s = uniformSchema('P', { a: 'u32', b: 'vec3f', c: 'f32', d: 'vec2f', e: 'i32', f: 'vec4u' });
  assert.deepEqual(
    s.fields.map((f) => [f.name, f.offset]),
    [
      ['a', 0],
      ['b', 16],
      ['c', 28],
      ['d', 32],
      ['e', 40],
      ['f', 48],
    ],
  );
  assert.equal(s.size, 64);
  assert.equal(
    s.wgsl,
    'struct P {\n  a: u32,\n  b: vec3<f32>,\n  c: f32,\n  d: vec2<f32>,\n  e: i32,\n  f: vec4<u32>,\n}\n',
  );
});

test('struct size rounds up to 16 bytes', () => {
  assert.equal(uniformSchema('P', { a: 'f32' }).size, 16);
  assert.equal(uniformSchema('P', { a: 'f32', b: 'f32', c: 'f32', d: 'f32', e: 'u32' }).size, 32);
  assert.equal(uniformSchema('P', { a: 'u32', b: 'vec2u' }).fields[1]!.offset, 8);
});

test('pack writes each value at its offset, little-endian, in its type', () => {
  const s = uniformSchema('P', { a: 'u32', b: 'vec3f', c: 'i32', d: 'f32' });
  const v = new DataView(s.pack({ a: 7, b: [1.5, -2, 3.25], c: -9, d: 0.5 }));
  assert.equal(v.getUint32(0, true), 7);
  assert.deepEqual([v.getFloat32(16, true), v.getFloat32(20, true), v.getFloat32(24, true)], [1.5, -2, 3.25]);
  assert.equal(v.getInt32(28, true), -9);
  assert.equal(v.getFloat32(32, true), 0.5);
});

test('pack rejects values that do not fit the field type', () => {
  const s = uniformSchema('P', { a: 'u32', v: 'vec2f', i: 'i32' });
  assert.throws(() => s.pack({ a: -1, v: [0, 0], i: 0 }), /not a u32/);
  assert.throws(() => s.pack({ a: 1.5, v: [0, 0], i: 0 }), /not a u32/);
  assert.throws(() => s.pack({ a: 1, v: [0], i: 0 }), /expected 2 value/);
  assert.throws(() => s.pack({ a: 1, v: [0, 0], i: 2 ** 31 }), /not an i32/);
});
