/**
 * Where the project's shared data lives (the COCO .tflite model and the datasets: read in place, never
 * copied into the repo). It sits beside the checkout as ../shared; a checkout elsewhere (a clone in
 * /tmp) finds it beside the local repository it was cloned from, or through MOBILESSD_SHARED.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

const cache = new Map<string, string>();

export function sharedDir(root: string): string {
  let dir = cache.get(root);
  if (dir === undefined) {
    dir = locate(root);
    cache.set(root, dir);
  }
  return dir;
}

function locate(root: string): string {
  if (process.env.MOBILESSD_SHARED) return resolve(process.env.MOBILESSD_SHARED);
  const beside = resolve(root, '..', 'shared');
  if (existsSync(beside)) return beside;
  const origin = cloneOrigin(root);
  if (origin && existsSync(resolve(origin, '..', 'shared'))) return resolve(origin, '..', 'shared');
  throw new Error(
    `the shared data folder is missing: expected ${beside} (models and datasets); put it beside the checkout or set MOBILESSD_SHARED`,
  );
}

/** The local repository this checkout was cloned from, if it was cloned from a path. */
function cloneOrigin(root: string): string | undefined {
  try {
    const url = execFileSync('git', ['-C', root, 'config', '--get', 'remote.origin.url'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const path = url.startsWith('file://') ? url.slice('file://'.length) : url;
    return isAbsolute(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** A path inside the shared folder. */
export function sharedPath(root: string, ...parts: string[]): string {
  return join(sharedDir(root), ...parts);
}
