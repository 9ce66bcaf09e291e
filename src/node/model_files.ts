/**
 * Node file I/O for mobilessd models: read a model folder (or its model.json) through the full
 * validation of graph/model_format.ts, and write one atomically (each file goes to a temporary
 * name in the same folder and is renamed into place, so a reader never sees a half-written file).
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoCode, readFileCapped } from '../core/read_file.ts';
import { ModelFormatError, ModelNotFoundError } from '../errors.ts';
import { parseModel, serializeModel } from '../graph/model_format.ts';
import type { LoadedModel } from '../graph/weights.ts';

export const MODEL_JSON = 'model.json';

/** Reads `path` (a model folder or its model.json) and validates it. */
export async function readModel(path: string): Promise<LoadedModel> {
  const jsonFile = (await isDirectory(path)) ? join(path, MODEL_JSON) : path;
  const text = (await readModelFile(jsonFile)).toString('utf8');
  // The weights file name comes from model.json; parseModel checks it once the JSON is validated. A name that
  // leaves the folder ('../x', '/etc/x', 'sub/x') is refused here, before anything is opened.
  let weightsName = 'weights.bin';
  try {
    const f = (JSON.parse(text) as { weights?: { file?: unknown } }).weights?.file;
    if (typeof f === 'string') weightsName = checkedWeightsName(f, jsonFile);
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    // parseModel reports the JSON error with the file name.
  }
  const weights = await readModelFile(join(dirname(jsonFile), weightsName));
  return parseModel(text, new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength), jsonFile);
}

/** Writes model.json and its weights into `dir`, each atomically. */
export async function writeModel(dir: string, model: LoadedModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { json, weights } = serializeModel(model);
  // Weights first: a reader that sees the new model.json finds its weights already in place.
  await writeAtomic(join(dir, model.json.weights.file), weights);
  await writeAtomic(join(dir, MODEL_JSON), json);
}

export async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The largest model file read (a .tflite, a weights file or shard, a model.json). */
export const MAX_MODEL_FILE_BYTES = 2 ** 30;

/** Reads a model file under the size cap; a missing file is ModelNotFoundError, other failures FileAccessError. */
export async function readModelFile(file: string): Promise<Buffer> {
  try {
    return await readFileCapped(file, { maxBytes: MAX_MODEL_FILE_BYTES, what: 'model file' });
  } catch (e) {
    if (errnoCode((e as { cause?: unknown }).cause) === 'ENOENT')
      throw new ModelNotFoundError(file, 'a converted model is a folder holding model.json and its weights file');
    throw e;
  }
}

/** A file name inside the model folder: no separators, no '..', not absolute. */
export function checkedWeightsName(name: string, jsonFile: string): string {
  if (name === '' || name === '.' || name === '..' || /[/\\]/.test(name) || name.includes('\0'))
    throw new ModelFormatError(
      jsonFile,
      `weights.file ${JSON.stringify(name)} is not a plain file name inside the model folder`,
      'weights.file names a file beside model.json, such as "weights.bin"',
    );
  return name;
}
