/**
 * Tuned GEMM plans on disk, in the model cache's folders (`<package>/weights/tuning/`, or the user cache
 * when that is read-only): one small JSON file per key, named by the key's SHA-256. Written to a temporary
 * file and renamed, so a reader never sees half an entry.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TuningStore } from '../api/tuning.ts';
import { cacheDirs, writableCacheDir } from './model_registry.ts';

const FOLDER = 'tuning';

export function nodeTuningStore(cacheDir?: string): TuningStore {
  const opts = cacheDir ? { cacheDir } : {};
  const file = (key: string) => `${createHash('sha256').update(key).digest('hex').slice(0, 24)}.json`;
  return {
    async read(key) {
      for (const dir of cacheDirs(FOLDER, opts)) {
        try {
          return await readFile(join(dir, file(key)), 'utf8');
        } catch {
          // Absent or unreadable here: the next folder, else tuning runs and writes a new entry.
        }
      }
      return undefined;
    },
    async write(key, text) {
      const path = join(await writableCacheDir(FOLDER, opts), file(key));
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, path);
    },
    describe: (key) => join(cacheDirs(FOLDER, opts)[0]!, file(key)),
  };
}
