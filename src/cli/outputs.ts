/**
 * Output paths checked before any work starts: a `--json` that names a folder, an `--out` folder that is a
 * file, or a folder this user cannot write would otherwise fail only after the whole run, with the results
 * lost. Each check probes the real target (a temporary file created and removed), so read-only mounts and
 * missing permissions are found too. Failures are FileAccessError naming the flag and the fix.
 */
import { mkdirSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileSystemError } from '../core/read_file.ts';
import { FileAccessError } from '../errors.ts';

/** A file the run will write (atomically, by rename in its folder): the folder must exist and be writable. */
export function checkOutputFile(path: string, flag: string): void {
  const st = statOrUndefined(path);
  if (st?.isDirectory())
    throw new FileAccessError(
      path,
      `${flag} names an existing directory`,
      `give a file path, e.g. ${join(path, 'out')}`,
    );
  const dir = dirname(resolve(path));
  const dirSt = statOrUndefined(dir);
  if (!dirSt) throw new FileAccessError(path, `the folder of ${flag} does not exist`, `create ${dir} first`);
  if (!dirSt.isDirectory())
    throw new FileAccessError(path, `${dir} is not a folder`, `give ${flag} a path inside a folder`);
  probe(dir, path, flag);
}

/** A folder the run will write files into: created if missing, and it must be writable. */
export function checkOutputDir(path: string, flag: string): void {
  const st = statOrUndefined(path);
  if (st && !st.isDirectory())
    throw new FileAccessError(
      path,
      `${flag} names an existing file, not a folder`,
      'give a folder (it is created if missing), or a .png path when there is one input',
    );
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    throw fileSystemError(path, e, 'folder', 'write');
  }
  probe(path, path, flag);
}

function probe(dir: string, target: string, flag: string): void {
  const tmp = join(dir, `.mobilessd-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    writeFileSync(tmp, '');
  } catch (e) {
    const err = fileSystemError(dir, e, 'folder', 'write');
    throw new FileAccessError(
      target,
      `${flag}: cannot write into ${dir}: ${err.message.slice(dir.length + 2)}`,
      err.hint ?? '',
    );
  } finally {
    rmSync(tmp, { force: true });
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
