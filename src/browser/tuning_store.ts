/**
 * Tuned GEMM plans in browsers: one IndexedDB object store, values keyed by the same JSON text as the Node
 * files (api/tuning.ts: adapter, model, input size). The entry's text is stored as it is, so api/tuning.ts
 * validates it the same way: a corrupt or stale entry is ignored, tuned again and overwritten.
 */
import type { TuningStore } from '../api/tuning.ts';

export const TUNING_DB = 'mobilessd';
export const TUNING_STORE = 'tuning';

/** Resolves an IndexedDB request; its error as a rejection. */
function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

/** The store, or undefined where the page has no IndexedDB (some workers, locked-down contexts). */
export function indexedDbTuningStore(
  factory = globalThis.indexedDB as IDBFactory | undefined,
): TuningStore | undefined {
  if (!factory) return undefined;
  let db: Promise<IDBDatabase> | undefined;
  const open = () => {
    if (!db) {
      const request = factory.open(TUNING_DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(TUNING_STORE);
      db = done(request);
      // A failed open (storage blocked) is retried by the next call rather than cached.
      db.catch(() => (db = undefined));
    }
    return db;
  };
  return {
    async read(key) {
      try {
        const value = await done((await open()).transaction(TUNING_STORE).objectStore(TUNING_STORE).get(key));
        // Anything but text is not an entry this build wrote: tuning runs and overwrites it.
        return typeof value === 'string' ? value : value === undefined ? undefined : String(value);
      } catch {
        return undefined;
      }
    },
    async write(key, text) {
      const tx = (await open()).transaction(TUNING_STORE, 'readwrite');
      tx.objectStore(TUNING_STORE).put(text, key);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
      });
    },
    describe: () => `IndexedDB ${TUNING_DB}/${TUNING_STORE}`,
  };
}
