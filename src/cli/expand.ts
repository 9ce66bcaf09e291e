/**
 * Turns `detect`'s positional arguments (files, folders, glob patterns) into image paths, in a
 * stable order. Globs support `*`, `?` and `**` (Node 20 has no fs.glob); shells usually expand
 * them first, but quoted patterns and Windows shells do not. A folder that cannot be listed (no
 * permission, a symlink loop) is reported with the reason and skipped; the rest are still expanded.
 */
import { readdirSync, statSync, type Dirent, type Stats } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileSystemError } from '../core/read_file.ts';

const IMAGE = /\.(jpe?g|png)$/i;

export interface Expanded {
  files: string[];
  /** Arguments that matched nothing, and folders that could not be listed, with the reason. */
  missing: { arg: string; reason: string }[];
}

export function expandInputs(args: readonly string[]): Expanded {
  const files: string[] = [];
  const missing: Expanded['missing'] = [];
  const unreadable = (path: string, e: unknown) => missing.push({ arg: path, reason: reasonOf(path, e) });
  for (const arg of args) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) {
      missing.push({
        arg,
        reason: 'is a URL; mobilessd reads local files only: download it first (curl -O URL) and pass the file',
      });
    } else if (/[*?]/.test(arg)) {
      const reported = missing.length;
      const found = glob(arg, unreadable);
      if (found.length) files.push(...found);
      else if (missing.length === reported) missing.push({ arg, reason: 'no file matches this pattern' });
    } else if (statOrUndefined(arg)?.isDirectory()) {
      const entries = list(arg, unreadable);
      if (!entries) continue;
      const found = entries
        .map((e) => e.name)
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

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function list(dir: string, unreadable: (path: string, e: unknown) => void): Dirent[] | undefined {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    unreadable(dir, e);
    return undefined;
  }
}

function reasonOf(path: string, e: unknown): string {
  const err = fileSystemError(path, e, 'folder', 'list');
  return `${err.message.slice(path.length + 2).split('\n')[0]} (skipped; ${err.hint})`;
}

function glob(pattern: string, unreadable: (path: string, e: unknown) => void): string[] {
  const abs = resolve(pattern);
  const parts = abs.split(sep);
  const out: string[] = [];
  const walk = (dir: string, i: number) => {
    if (i === parts.length) {
      if (statOrUndefined(dir)?.isFile()) out.push(dir);
      return;
    }
    const part = parts[i]!;
    if (!/[*?]/.test(part)) return walk(join(dir, part), i + 1);
    if (!statOrUndefined(dir)?.isDirectory()) return;
    const entries = list(dir, unreadable);
    if (!entries) return;
    if (part === '**') {
      walk(dir, i + 1);
      for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name), i);
      return;
    }
    const re = new RegExp(
      `^${part
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
    for (const e of entries.map((x) => x.name).sort()) if (re.test(e)) walk(join(dir, e), i + 1);
  };
  walk(parts[0] === '' ? sep : parts[0]!, 1);
  return out.sort();
}
