/**
 * Turns `detect`'s positional arguments (files, folders, glob patterns) into image paths, in a
 * stable order. Globs support `*`, `?` and `**` (Node 20 has no fs.glob); shells usually expand
 * them first, but quoted patterns and Windows shells do not.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';

const IMAGE = /\.(jpe?g|png)$/i;

export interface Expanded {
  files: string[];
  /** Arguments that matched nothing, with the reason. */
  missing: { arg: string; reason: string }[];
}

export function expandInputs(args: readonly string[]): Expanded {
  const files: string[] = [];
  const missing: Expanded['missing'] = [];
  for (const arg of args) {
    if (/[*?]/.test(arg)) {
      const found = glob(arg);
      if (found.length) files.push(...found);
      else missing.push({ arg, reason: 'no file matches this pattern' });
    } else if (existsSync(arg) && statSync(arg).isDirectory()) {
      const found = readdirSync(arg)
        .filter((f) => IMAGE.test(f))
        .sort()
        .map((f) => join(arg, f));
      if (found.length) files.push(...found);
      else missing.push({ arg, reason: 'the folder holds no .jpg/.jpeg/.png files' });
    } else {
      // Missing or unreadable files are reported per file by the decoder, with its own message.
      files.push(arg);
    }
  }
  return { files: [...new Set(files)], missing };
}

function glob(pattern: string): string[] {
  const abs = resolve(pattern);
  const parts = abs.split(sep);
  const out: string[] = [];
  const walk = (dir: string, i: number) => {
    if (i === parts.length) {
      if (existsSync(dir) && statSync(dir).isFile()) out.push(dir);
      return;
    }
    const part = parts[i]!;
    if (!/[*?]/.test(part)) return walk(join(dir, part), i + 1);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
    if (part === '**') {
      walk(dir, i + 1);
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name), i);
      return;
    }
    const re = new RegExp(
      `^${part
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
    for (const e of readdirSync(dir).sort()) if (re.test(e)) walk(join(dir, e), i + 1);
  };
  walk(parts[0] === '' ? sep : parts[0]!, 1);
  return out.sort();
}
