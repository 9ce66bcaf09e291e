// A small static file server for the demo (`npm run demo`) and the browser tests: GET and HEAD only,
// URL prefixes mounted on folders, no directory listings, and nothing outside a mounted folder
// (`..`, encoded separators, dot-files and symbolic links that lead out are refused).
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.bin': 'application/octet-stream',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.webm': 'video/webm',
  '.mp4': 'video/mp4',
};

function contentType(path) {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file a URL path names under `mounts` ({'/prefix/': folder}, longest prefix wins), or
 * undefined. Folders answer with their index.html.
 */
async function resolveFile(mounts, urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (path.includes('\0') || path.includes('\\')) return undefined;
  const prefix = Object.keys(mounts)
    .filter((p) => path === p.replace(/\/$/, '') || path.startsWith(p))
    .sort((a, b) => b.length - a.length)[0];
  if (prefix === undefined) return undefined;
  const parts = path.slice(prefix.length).split('/').filter(Boolean);
  if (parts.some((p) => p.startsWith('.'))) return undefined;
  let root;
  try {
    root = await realpath(mounts[prefix]);
  } catch {
    return undefined;
  }
  let file = resolve(root, ...parts);
  try {
    if ((await stat(file)).isDirectory()) file = resolve(file, 'index.html');
    file = await realpath(file);
    const info = await stat(file);
    if (!info.isFile() || !(file === root || file.startsWith(root + sep))) return undefined;
    return { file, size: info.size, mtime: info.mtime };
  } catch {
    return undefined;
  }
}

const HOST = '127.0.0.1';

/** Starts serving on 127.0.0.1 only; resolves once listening. `port` 0 picks a free one. */
export async function startStaticServer({ mounts, port = 0 }) {
  const server = createServer(async (req, res) => {
    const send = (status, text, headers = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(req.method === 'HEAD' ? undefined : `${text}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed', { allow: 'GET, HEAD' });
    let pathname;
    try {
      pathname = new URL(req.url ?? '/', 'http://host').pathname;
    } catch {
      return send(400, 'bad request');
    }
    const found = await resolveFile(mounts, pathname);
    if (!found) return send(404, 'not found');
    const lastModified = found.mtime.toUTCString();
    const since = Date.parse(req.headers['if-modified-since'] ?? '');
    if (since >= Math.floor(found.mtime.getTime() / 1000) * 1000) {
      res.writeHead(304, { 'last-modified': lastModified }).end();
      return;
    }
    res.writeHead(200, {
      'content-type': contentType(found.file),
      'content-length': found.size,
      'last-modified': lastModified,
      // Revalidate every time: rebuilt bundles and reconverted weights show up on reload.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(found.file)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', (e) =>
      fail(e.code === 'EADDRINUSE' ? new Error(`port ${port} on ${HOST} is in use; choose another with --port`) : e),
    );
    server.listen(port, HOST, ok);
  });
  const address = server.address();
  const origin = `http://${HOST}:${address.port}`;
  return {
    origin,
    port: address.port,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
