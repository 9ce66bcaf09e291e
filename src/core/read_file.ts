/**
 * Reading untrusted paths safely: each file is opened once, checked to be a regular file (a FIFO would
 * block forever, /dev/zero never ends), and read up to a size cap known before any byte is read. Every
 * file-system failure becomes a typed error naming the path, the cause and what to do.
 */
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FileAccessError, MobileSsdError } from '../errors.ts';

/** Builds the typed error for a path; images use ImageFileError, everything else FileAccessError. */
export type FileErrorFactory = (path: string, problem: string, hint: string, cause?: unknown) => MobileSsdError;

export interface CappedRead {
  /** Largest file accepted, in bytes. */
  maxBytes: number;
  /** What the file should be, for messages: 'image file', 'model file', ... */
  what: string;
  /** How a larger limit can be asked for, if it can. */
  raiseHint?: string;
  makeError?: FileErrorFactory;
}

const defaultFactory: FileErrorFactory = (path, problem, hint, cause) =>
  new FileAccessError(path, problem, hint, cause);

/** Reads a regular file of at most `o.maxBytes` bytes; anything else is a typed error, raised before reading. */
export async function readFileCapped(path: string, o: CappedRead): Promise<Buffer> {
  const make = o.makeError ?? defaultFactory;
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw fileSystemError(path, e, o.what, 'read', make);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      const hint = st.isDirectory() ? `name the ${o.what} itself, not a directory` : `pass a regular ${o.what}`;
      throw make(path, `is ${kindOf(st)}, not a regular ${o.what}`, hint);
    }
    if (st.size > o.maxBytes) {
      throw make(
        path,
        `is ${formatBytes(st.size)}, more than the ${formatBytes(o.maxBytes)} limit for ${article(o.what)} ${o.what}`,
        o.raiseHint ?? `check that this is the ${o.what} you meant`,
      );
    }
    // One byte more than stat said, to notice a file that grows while it is read.
    const buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) throw make(path, 'grew while it was read', `pass a ${o.what} that is not being written`);
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (!(e instanceof MobileSsdError)) throw fileSystemError(path, e, o.what, 'read', make);
    throw e;
  } finally {
    await handle.close();
  }
}

/** Reads a stream (stdin, for the `-` argument) to its end under the same cap, refusing it once it passes the cap. */
export async function readStreamCapped(
  stream: AsyncIterable<Buffer | string>,
  name: string,
  o: CappedRead,
): Promise<Buffer> {
  const make = o.makeError ?? defaultFactory;
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    n += b.length;
    if (n > o.maxBytes)
      throw make(
        name,
        `holds more than the ${formatBytes(o.maxBytes)} limit for ${article(o.what)} ${o.what}`,
        o.raiseHint ?? `check what is piped in`,
      );
    parts.push(b);
  }
  return Buffer.concat(parts, n);
}

/** Reads a UTF-8 text file under the same checks. */
export async function readTextCapped(path: string, o: CappedRead): Promise<string> {
  return (await readFileCapped(path, o)).toString('utf8');
}

/** Maps a Node file-system error (ENOENT, EACCES, EISDIR, ...) to a typed error that says what to do. */
export function fileSystemError(
  path: string,
  e: unknown,
  what: string,
  action: 'read' | 'write' | 'list',
  make: FileErrorFactory = defaultFactory,
): MobileSsdError {
  const code = errnoCode(e);
  const verb = action === 'list' ? 'list' : action;
  switch (code) {
    case 'ENOENT':
      return action === 'write'
        ? make(path, 'its folder does not exist', 'create the folder first, or choose another path', e)
        : make(path, 'no such file', `check the path (relative paths start at ${process.cwd()})`, e);
    case 'ENOTDIR':
      return make(path, 'no such file (a part of the path is a file, not a folder)', 'check the path', e);
    case 'EISDIR':
      return make(
        path,
        `is a directory, not a ${what}`,
        action === 'write' ? 'name a file inside it, or remove the folder' : 'pass the files inside it instead',
        e,
      );
    case 'EACCES':
    case 'EPERM':
      return make(path, 'permission denied', `check that this user may ${verb} it (ls -l; chmod)`, e);
    case 'EEXIST':
      return make(path, 'already exists and is not a folder', 'remove it, or choose another path', e);
    case 'ELOOP':
      return make(path, 'symbolic links loop back on themselves', 'fix or remove the link', e);
    case 'ENAMETOOLONG':
      return make(path, 'the path is too long', 'use a shorter path', e);
    case 'EMFILE':
    case 'ENFILE':
      return make(path, 'too many open files', 'raise the open-file limit (ulimit -n) or pass fewer files', e);
    case 'ENOSPC':
    case 'EDQUOT':
      return make(path, 'no space left on the device', 'free some disk space, or write elsewhere', e);
    case 'EROFS':
      return make(path, 'the file system is read-only', 'write to another location', e);
    case 'EIO':
      return make(path, 'input/output error', 'the disk or network share may be failing; check it', e);
    case 'ERR_FS_FILE_TOO_LARGE':
      return make(path, 'the file is too large to read into memory', `check that this is the ${what} you meant`, e);
    default:
      return make(
        path,
        `cannot ${verb} it (${code ?? (e instanceof Error ? e.message : String(e))})`,
        `check that the path names a ${action === 'list' ? 'readable folder' : `${what} this user can ${verb}`}`,
        e,
      );
  }
}

export function errnoCode(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${+(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${+(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${+(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} bytes`;
}
