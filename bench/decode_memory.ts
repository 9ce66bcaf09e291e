/**
 * Peak memory of decoding hostile and large images (issue 18): decode bombs (a few hundred KB that declare
 * 100 megapixels), a JPEG whose header claims far more than its data holds, and ordinary large photos.
 * Each file is decoded in a fresh child process that reports its peak RSS (VmHWM) before and after, and
 * the whole CLI (`node dist/node/cli.js detect FILE samples/cat.jpg`) is measured the same way.
 *
 *   npm run build && node scripts/build.mjs bench && node .build/bench/decode_memory.js
 *
 * Writes results/decode_memory.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createDeflate } from 'node:zlib';
import jpeg from 'jpeg-js';
import { readImageFile } from '../src/image/decode.ts';

const root = process.env.MOBILESSD_ROOT ?? process.cwd();

/**
 * Peak RSS so far, in KB: VmHWM, which exec resets. getrusage's maxRSS is not reset by exec on Linux, so a child
 * spawned by this (large) process would start from the parent's peak and hide its own.
 */
function peakKB(): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
  } catch {
    return process.resourceUsage().maxRSS;
  }
}

if (process.argv[2] === '--decode') {
  // Child: decode one file, report RSS figures in MiB as JSON.
  const before = peakKB();
  const t0 = performance.now();
  let outcome: string;
  try {
    // '--jpeg-js': the decoder used before our own (for the comparison rows), on the same file.
    const img =
      process.argv[5] === '--jpeg-js'
        ? jpeg.decode(readFileSync(process.argv[3]!), { useTArray: true, maxMemoryUsageInMB: 4096 })
        : await readImageFile(process.argv[3]!, { maxPixels: Number(process.argv[4]) });
    outcome = `decoded ${img.width}x${img.height}`;
  } catch (e) {
    const first = (e as Error).message.split('\n')[0]!.replace(/^.*?: (cannot decode image: )?/, '');
    outcome = `${(e as { code?: string }).code ?? 'ERROR'}: ${first.slice(0, 80)}`;
  }
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ beforeKB: before, peakKB: peakKB(), ms, outcome }));
  process.exit(0);
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const v of b) c = crcTable[(c ^ v) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** A valid PNG of zero pixels, deflated row by row from one buffer: a few hundred KB for 100 megapixels. */
async function zeroPng(file: string, width: number, height: number, bitDepth: 8 | 16): Promise<void> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, 6, 0, 0, 0], 8);
  const row = Buffer.alloc(1 + width * 4 * (bitDepth / 8));
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (d: Buffer) => parts.push(d));
  for (let y = 0; y < height; y++) if (!deflate.write(row)) await once(deflate, 'drain');
  deflate.end();
  await once(deflate, 'end');
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  writeFileSync(
    file,
    Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', new Uint8Array())]),
  );
}

/** A noisy JPEG (so its scan data is realistic) of width x height. */
function noisyJpeg(file: string, width: number, height: number): void {
  const data = Buffer.alloc(width * height * 4);
  let s = 1;
  for (let i = 0; i < data.length; i++) data[i] = ((s = (s * 1103515245 + 12345) >>> 0) >>> 24) & 0xff;
  writeFileSync(file, jpeg.encode({ data, width, height }, 85).data);
}

/** `src` with its frame header (SOF) rewritten to declare width x height. */
function patchJpegSize(src: string, file: string, width: number, height: number): void {
  const b = Buffer.from(readFileSync(src));
  for (let i = 2; i + 9 < b.length; i += 2 + b.readUInt16BE(i + 2)) {
    if (b[i + 1]! >= 0xc0 && b[i + 1]! <= 0xc2) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      break;
    }
  }
  writeFileSync(file, b);
}

function mib(kb: number): string {
  return (kb / 1024).toFixed(0);
}

const work = mkdtempSync(join(tmpdir(), 'mobilessd-decode-mem-'));
const self = join(root, '.build/bench/decode_memory.js');
const cliJs = join(root, 'dist/node/cli.js');
try {
  const cases: { name: string; file: string; width: number; height: number; maxPixels?: number; jpegJs?: true }[] = [];
  const add = (name: string, file: string, width: number, height: number, maxPixels?: number) =>
    cases.push({ name, file, width, height, ...(maxPixels ? { maxPixels } : {}) });
  const addJpegJs = (name: string, file: string, width: number, height: number) =>
    cases.push({ name, file, width, height, jpegJs: true });

  noisyJpeg(join(work, 'small.jpg'), 64, 64);
  patchJpegSize(join(work, 'small.jpg'), join(work, 'bomb.jpg'), 16384, 6100);
  add('64x64 JPEG (7 KB) whose SOF says 16384x6100', join(work, 'bomb.jpg'), 16384, 6100);
  patchJpegSize(join(root, 'samples/dog.jpg'), join(work, 'dog-patched.jpg'), 16384, 6100);
  add('dog.jpg with its SOF patched to 16384x6100', join(work, 'dog-patched.jpg'), 16384, 6100);
  await zeroPng(join(work, 'rgba16.png'), 10000, 10000, 16);
  add('10000x10000 16-bit RGBA PNG (zeros)', join(work, 'rgba16.png'), 10000, 10000);
  await zeroPng(join(work, 'rgba8.png'), 16384, 6100, 8);
  add('16384x6100 8-bit RGBA PNG (zeros)', join(work, 'rgba8.png'), 16384, 6100);
  add('the same, --max-pixels 50000000', join(work, 'rgba8.png'), 16384, 6100, 50_000_000);
  noisyJpeg(join(work, 'photo.jpg'), 6000, 4000);
  add('6000x4000 JPEG (noise, quality 85)', join(work, 'photo.jpg'), 6000, 4000);
  addJpegJs('the same, decoded by jpeg-js (before our decoder)', join(work, 'photo.jpg'), 6000, 4000);
  // Progressive: the same coefficients, rearranged by jpegtran (libjpeg-turbo-progs) into successive scans.
  const progressive = spawnSync('jpegtran', [
    '-progressive',
    '-outfile',
    join(work, 'prog.jpg'),
    join(work, 'photo.jpg'),
  ]);
  if (progressive.status === 0) {
    add('the same, progressive (jpegtran -progressive)', join(work, 'prog.jpg'), 6000, 4000);
    addJpegJs('the progressive file, decoded by jpeg-js', join(work, 'prog.jpg'), 6000, 4000);
  } else console.log('jpegtran not found (apt-get install libjpeg-turbo-progs): no progressive row');
  add('samples/dog.jpg (768x576)', join(root, 'samples/dog.jpg'), 768, 576);

  const rows: string[] = [];
  for (const c of cases) {
    const size = readFileSync(c.file).length;
    const d = spawnSync(
      process.execPath,
      [self, '--decode', c.file, String(c.maxPixels ?? 100_000_000), ...(c.jpegJs ? ['--jpeg-js'] : [])],
      { encoding: 'utf8' },
    );
    const r = JSON.parse(d.stdout) as { beforeKB: number; peakKB: number; ms: number; outcome: string };
    const rgbaMiB = (c.width * c.height * 4) / 2 ** 20;
    const decoded = r.outcome.startsWith('decoded');
    // The CLI always runs our decoder: no CLI figure for the jpeg-js rows.
    const cli = c.jpegJs
      ? undefined
      : spawnSync(
          '/usr/bin/time',
          [
            '-f',
            'MAXRSS %M',
            process.execPath,
            cliJs,
            'detect',
            c.file,
            join(root, 'samples/cat.jpg'),
            '--quiet',
            '--max-pixels',
            String(c.maxPixels ?? 100_000_000),
          ],
          { encoding: 'utf8', cwd: root },
        );
    const cliKB = Number(/MAXRSS (\d+)/.exec(cli?.stderr ?? '')?.[1] ?? NaN);
    rows.push(
      `| ${c.name} | ${(size / 1024).toFixed(0)} KB | ${rgbaMiB.toFixed(0)} | ${r.outcome.replace(/\|/g, '/')} | ${r.ms.toFixed(0)} | ${mib(r.beforeKB)} | ${mib(r.peakKB)} | ${decoded ? ((r.peakKB - r.beforeKB) / 1024 / rgbaMiB).toFixed(2) : '-'} | ${cli ? `${mib(cliKB)} (exit ${cli.status})` : '-'} |`,
    );
    console.log(rows.at(-1));
  }
  const md = [
    '# Decode memory (issue 18)',
    '',
    'Produced by `node .build/bench/decode_memory.js` (after `npm run build && node scripts/build.mjs bench`).',
    'Decode: `readImageFile` alone in a fresh Node process; peak RSS (VmHWM) before and after.',
    'CLI: `/usr/bin/time -f %M node dist/node/cli.js detect FILE samples/cat.jpg --quiet` (loads oid-v4 on lavapipe).',
    '"x RGBA" is (peak - before) / the decoded RGBA size.',
    '',
    '| input | file | RGBA MiB | outcome | ms | RSS before MiB | peak MiB | x RGBA | CLI peak MiB |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(join(root, 'results/decode_memory.md'), md);
  console.log('wrote results/decode_memory.md');
} finally {
  rmSync(work, { recursive: true, force: true });
}
