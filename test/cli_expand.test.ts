/** `detect`'s positional arguments: files, folders and glob patterns (`*`, `?`, `**`) to image paths, in order. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { expandInputs } from '../src/cli/expand.ts';

const dir = mkdtempSync(join(tmpdir(), 'mobilessd-expand-'));
after(() => rmSync(dir, { recursive: true, force: true }));
for (const f of ['a/x.jpg', 'a/y.png', 'a/yy.png', 'a/b/z.jpeg', 'a/b/notes.txt', 'a/b/c/w.JPG', 'top.jpg']) {
  mkdirSync(join(dir, f, '..'), { recursive: true });
  writeFileSync(join(dir, f), '');
}
const rel = (files: string[]) => files.map((f) => relative(dir, f));
const at = (p: string) => join(dir, p);

test('a * pattern matches within one folder, sorted', () => {
  assert.deepEqual(rel(expandInputs([at('a/*')]).files), ['a/x.jpg', 'a/y.png', 'a/yy.png']);
  assert.deepEqual(rel(expandInputs([at('a/*.png')]).files), ['a/y.png', 'a/yy.png']);
});

test('? matches exactly one character', () => {
  assert.deepEqual(rel(expandInputs([at('a/?.png')]).files), ['a/y.png']);
});

test('** matches any depth, including none; patterns are case-sensitive, as in the shell', () => {
  assert.deepEqual(rel(expandInputs([at('a/**/*.j*')]).files), ['a/b/z.jpeg', 'a/x.jpg']);
  assert.deepEqual(rel(expandInputs([at('a/**/*.J*')]).files), ['a/b/c/w.JPG']);
  assert.deepEqual(rel(expandInputs([at('**/w.JPG')]).files), ['a/b/c/w.JPG']);
});

test('a folder gives its own images only (not recursive, not other files); duplicates collapse, order kept', () => {
  assert.deepEqual(rel(expandInputs([at('a/b')]).files), ['a/b/z.jpeg']);
  const { files, missing } = expandInputs([at('top.jpg'), at('a/x.jpg'), at('a/*.jpg'), at('top.jpg')]);
  assert.deepEqual(rel(files), ['top.jpg', 'a/x.jpg']);
  assert.deepEqual(missing, []);
});

test('a pattern or folder that matches nothing is reported with its reason; a plain missing file is left to the decoder', () => {
  mkdirSync(at('empty'));
  const { files, missing } = expandInputs([at('nothing/*.jpg'), at('empty'), at('missing.jpg')]);
  assert.deepEqual(rel(files), ['missing.jpg']);
  assert.deepEqual(missing, [
    { arg: at('nothing/*.jpg'), reason: 'no file matches this pattern' },
    { arg: at('empty'), reason: 'the folder holds no .jpg/.jpeg/.png files' },
  ]);
});
