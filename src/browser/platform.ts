/**
 * The browser platform of ObjectDetector: converted models fetched over HTTP (model.json and its
 * weights file, through the same validation as in Node), and inputs as images, canvases, video,
 * VideoFrames or RGBA pixels put on the GPU by the browser (frame_sources.ts).
 */
import type { Platform } from '../api/object_detector.ts';
import { ChecksumError, InvalidOptionError, ModelFormatError, ModelNotFoundError } from '../errors.ts';
import { parseModel } from '../graph/model_format.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { frameFor, type BrowserImageInput } from './frame_sources.ts';

export interface LoadProgress {
  url: string;
  loadedBytes: number;
  /** From Content-Length; undefined when the server does not send it. */
  totalBytes: number | undefined;
}

export interface FetchOptions {
  /** Where model names are looked up: `${baseUrl}<name>/model.json`. Default `./weights/`, relative to the page. */
  baseUrl?: string | URL;
  /** Download progress of model.json and the weights file. */
  onProgress?: (progress: LoadProgress) => void;
}

/**
 * A model by URL with the Subresource-Integrity hash of its model.json (`sha384-<base64>`, as
 * `mobilessd export-web` writes in manifest.json). model.json pins its weights by SHA-256 in turn.
 */
export interface ModelRef {
  url: string | URL;
  integrity?: string;
}

/**
 * A model from local files: the model folder a user picked (`<input type="file" webkitdirectory>`) or dropped.
 * It must hold one model.json and the weights file that model.json names; other files are ignored.
 */
export interface ModelFiles {
  files: Iterable<File>;
}

export type ModelSource = string | URL | ModelRef | ModelFiles;

const SERVE_HINT =
  'serve the converted model folder (model.json + weights.bin): `npm run demo` converts the bundled models into weights/<name>/ and serves them at ./weights/; or pass a model.json URL or {baseUrl}';

export function browserPlatform(o: FetchOptions): Platform<BrowserImageInput, ModelSource, { url: string }> {
  return {
    async loadModel(source) {
      if (typeof source === 'object' && 'files' in source) return modelFromFiles([...source.files]);
      const ref = typeof source === 'object' && !(source instanceof URL) ? source : { url: source };
      const url = modelUrl(ref.url, o.baseUrl);
      const jsonBytes = await fetchBytes(url, o.onProgress);
      if (ref.integrity !== undefined) await checkIntegrity(jsonBytes, ref.integrity, url);
      const text = new TextDecoder().decode(jsonBytes);
      const weightsUrl = new URL(await weightsFileName(text, url), url).href;
      return { model: await parseModel(text, await fetchBytes(weightsUrl, o.onProgress), url), where: { url } };
    },
    frame: frameFor,
    warn: (m) => console.warn(m),
  };
}

const FILES_HINT =
  'pick or drop the whole model folder (model.json and the weights file beside it), as `mobilessd train --out` or `mobilessd export-web` wrote it';

/** `where` is the model.json's path inside the picked folder (webkitRelativePath), or its bare name. */
async function modelFromFiles(files: File[]): Promise<{ model: LoadedModel; where: { url: string } }> {
  const path = (f: File) => f.webkitRelativePath || f.name;
  const jsons = files.filter((f) => f.name === 'model.json');
  if (jsons.length !== 1) {
    const what = jsons.length
      ? `${jsons.length} files named model.json (${jsons.map(path).join(', ')})`
      : 'no model.json';
    throw new ModelNotFoundError(`the ${files.length} file(s) given hold ${what}`, FILES_HINT);
  }
  const json = jsons[0]!;
  const url = path(json);
  const text = new TextDecoder().decode(await json.arrayBuffer());
  const name = await weightsFileName(text, url);
  const folder = url.slice(0, url.length - json.name.length);
  // Beside model.json: in the same picked folder, or any file of that name when the files came without paths.
  const weights = files.find((f) => f.name === name && (!f.webkitRelativePath || path(f) === folder + name));
  if (!weights)
    throw new ModelNotFoundError(`${folder}${name} (named by ${url}) is not among the files given`, FILES_HINT);
  return { model: await parseModel(text, new Uint8Array(await weights.arrayBuffer()), url), where: { url } };
}

function modelUrl(model: string | URL, baseUrl: string | URL = './weights/'): string {
  const page = (globalThis as { document?: { baseURI: string } }).document?.baseURI ?? globalThis.location?.href;
  const text = String(model);
  if (/^[\w.-]+$/.test(text) && !text.endsWith('.json'))
    return new URL(`${text}/model.json`, new URL(baseUrl, page)).href;
  const url = new URL(text, page);
  if (!url.pathname.endsWith('.json')) url.pathname = `${url.pathname.replace(/\/?$/, '/')}model.json`;
  return url.href;
}

async function fetchBytes(url: string, onProgress: FetchOptions['onProgress']): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new ModelNotFoundError(`${url} (${(e as Error).message})`, SERVE_HINT);
  }
  if (!response.ok)
    throw new ModelNotFoundError(
      `${url} (HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''})`,
      SERVE_HINT,
    );
  const length = Number(response.headers.get('content-length'));
  const totalBytes = length > 0 ? length : undefined;
  if (!onProgress || !response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loadedBytes = 0;
  const reader = response.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    chunks.push(r.value);
    loadedBytes += r.value.byteLength;
    onProgress({ url, loadedBytes, totalBytes });
  }
  const out = new Uint8Array(loadedBytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The weights file named by model.json: a bare file name beside it, never a path elsewhere. */
async function weightsFileName(text: string, url: string): Promise<string> {
  if (text.trimStart().startsWith('<'))
    throw new ModelFormatError(url, 'the server answered with an HTML page, not model.json', SERVE_HINT);
  let file: unknown;
  try {
    file = (JSON.parse(text) as { weights?: { file?: unknown } }).weights?.file;
  } catch {
    // parseModel below reports the JSON error itself.
  }
  if (typeof file !== 'string') {
    await parseModel(text, new Uint8Array(0), url);
    throw new ModelFormatError(url, 'weights.file is missing');
  }
  if (!/^\w[\w.-]*$/.test(file))
    throw new ModelFormatError(url, `weights.file ${JSON.stringify(file)} is not a file name beside model.json`);
  return file;
}

const SRI = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/;

/** Subresource Integrity as browsers check it: any one of the space-separated hashes must match. */
async function checkIntegrity(bytes: Uint8Array, integrity: string, url: string): Promise<void> {
  const hashes = integrity.trim().split(/\s+/);
  if (!hashes.every((h) => SRI.test(h)))
    throw new InvalidOptionError(
      'integrity',
      integrity,
      '"sha384-<base64>" (from the manifest.json of mobilessd export-web)',
    );
  let actual = '';
  for (const h of hashes) {
    const [, alg, expected] = SRI.exec(h)!;
    const name = `SHA-${alg!.slice(3)}`;
    const digest = new Uint8Array(await globalThis.crypto.subtle.digest(name, bytes as Uint8Array<ArrayBuffer>));
    actual = `${alg}-${btoa(String.fromCharCode(...digest))}`;
    if (actual === `${alg}-${expected}`) return;
  }
  throw new ChecksumError(
    url,
    integrity,
    actual,
    'the served model.json is not the one this integrity was made for: export the model again (mobilessd export-web) and use the integrity its manifest.json gives',
  );
}
