/**
 * Hostile and careless inputs to the CLI (issue 18): special files and huge files, decode bombs, truncated
 * scans, unreadable folders, file-system errors, bad output paths and usage errors. Every case ends in a
 * typed error that names the path and says what to do, quickly, and the good input beside it is still
 * processed and written. Each child runs under a watchdog (spawnSync's timeout): a hang fails the test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const root = process.env.MOBILESSD_ROOT ?? process.cwd();
const cliJs = join(root, '.build/test/support/cli_main.js');
const work = mkdtempSync(join(tmpdir(), 'mobilessd-hostile-'));
after(() => rmSync(work, { recursive: true, force: true }));
const CAT = join(root, 'samples/cat.jpg');

/** Runs the CLI; a child still running after the watchdog is killed, and the test fails on it. */
function cli(args: string[], o: { uid?: number } = {}) {
  const r = spawnSync(process.execPath, [cliJs, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid } : {}),
  });
  assert.equal(r.signal, null, `the CLI was killed by ${r.signal} (hung?): ${args.join(' ')}\n${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The stderr line naming `path`, which must match `why`. */
function lineFor(stderr: string, path: string, why: RegExp): string {
  const line = stderr.split('\n').find((l) => l.includes(path));
  assert.ok(line, `stderr does not name ${path}:\n${stderr}`);
  assert.match(line, why);
  return line;
}

function readJson(file: string) {
  return JSON.parse(readFileSync(file, 'utf8')) as {
    complete: boolean;
    images: { file: string; detections?: { label: string }[]; error?: { code: string; message: string } }[];
  };
}

/** A sparse file of `bytes` bytes: huge on paper, no disk used. */
function sparse(path: string, bytes: number): string {
  const fd = openSync(path, 'w');
  try {
    writeFileSync(fd, Buffer.from([0xff, 0xd8, 0xff]));
  } finally {
    closeSync(fd);
  }
  spawnSync('truncate', ['-s', String(bytes), path]);
  return path;
}

test('case 1: /dev/zero, a FIFO and a 20 GB file are refused before reading; the good image is still processed', () => {
  const fifo = join(work, 'pipe.jpg');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const huge = sparse(join(work, 'huge.jpg'), 20 * 2 ** 30);
  const json = join(work, 'case1.json');
  const r = cli(['detect', '/dev/zero', fifo, huge, CAT, '--json', json, '--quiet']);
  assert.equal(r.code, 1, r.stderr);
  lineFor(r.stderr, '/dev/zero', /character device, not a regular image file/);
  lineFor(r.stderr, fifo, /FIFO \(named pipe\), not a regular image file/);
  lineFor(r.stderr, huge, /is 20 GiB, more than the 778\.9 MiB limit for an image file/);
  const doc = readJson(json);
  assert.equal(doc.complete, true);
  assert.deepEqual(
    doc.images.map((i) => i.file),
    ['/dev/zero', fifo, huge, CAT],
  );
  assert.deepEqual(
    doc.images.slice(0, 3).map((i) => i.error?.code),
    ['INVALID_INPUT', 'INVALID_INPUT', 'INVALID_INPUT'],
  );
  assert.ok(doc.images[3]!.detections!.some((d) => d.label === 'Cat'));
});

test('case 1: a model path that is /dev/zero, a FIFO or a huge file is a typed error, not an endless read', () => {
  const fifo = join(work, 'model.tflite');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const huge = sparse(join(work, 'huge.tflite'), 8 * 2 ** 30);
  for (const [model, why] of [
    ['/dev/zero', /\/dev\/zero: is a character device, not a regular model file/],
    [fifo, /model\.tflite: is a FIFO \(named pipe\), not a regular model file/],
    [huge, /huge\.tflite: is 8 GiB, more than the 1 GiB limit for a model file/],
  ] as const) {
    const r = cli(['detect', '--model', model, CAT]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error \[FILE_ACCESS\]/);
    assert.match(r.stderr, why);
    assert.match(r.stderr, /hint: /);
  }
});
