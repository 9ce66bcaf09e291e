/**
 * Where this package lives on disk, found from the running module rather than the working
 * directory, so bundles (dist/, .build/) and installed copies resolve the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

const here = dirname(fileURLToPath(import.meta.url));

/** The nearest ancestor folder of this module whose package.json is named "mobilessd", if any. */
export function packageRoot(): string | undefined {
  if (cached) return cached;
  for (let dir = here; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && readPackageName(pkg) === 'mobilessd') return (cached = dir);
    if (dirname(dir) === dir) return undefined;
  }
}

function readPackageName(file: string): string | undefined {
  try {
    const name = (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** A file inside an npm dependency, looked up in node_modules from the package root upwards. */
export function dependencyFile(pkg: string, file: string): string | undefined {
  for (let dir = packageRoot() ?? here; ; dir = dirname(dir)) {
    const p = join(dir, 'node_modules', pkg, file);
    if (existsSync(p)) return p;
    if (dirname(dir) === dir) return undefined;
  }
}
