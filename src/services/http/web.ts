/**
 * porter's web UI on the web server: the built app (dist/web, from web/) as static files, hashed
 * assets cached for a year, and the app's shell (index.html) for `/` and every other page route.
 * The build is a handful of files (about 250 KB), read into memory with their ETag at start and
 * gzipped at the first request that takes gzip (at start that cost 8 ms): cheaper to serve than
 * from disk, and a static-file plugin would cost porter 7 MB of resident memory for what this
 * does in a page.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build` puts the web UI; the same path from src/ (tests) and from dist/ (run time). */
export const WEB_ROOT = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

// Vite names every file under assets/ by its content's hash, so a cached copy is never stale.
const ASSET_CACHE = 'public, max-age=31536000, immutable';
// index.html names the current assets: browsers must check it on every load (ETag makes that cheap).
const SHELL_CACHE = 'no-cache';

export interface WebUiOptions {
  /** The built web UI; WEB_ROOT unless given. */
  readonly root?: string;
}

/**
 * Adds the web UI's routes to `app` when its build exists (`index.html` in the root), and answers
 * false, adding nothing, when it does not. Page routes are GET or HEAD requests for HTML at a path
 * without a file extension that no other route answers; other unknown requests get Fastify's 404.
 */
export async function serveWebUi(app: FastifyInstance, options: WebUiOptions = {}): Promise<boolean> {
  const root = options.root ?? WEB_ROOT;
  if (!existsSync(join(root, 'index.html'))) return false;
  const files = await loadFiles(root);
  const shellFile = files.get('index.html') as WebFile;
  for (const [path, file] of files) {
    if (path === 'index.html') continue;
    const cache = path.startsWith('assets/') ? ASSET_CACHE : SHELL_CACHE;
    app.get(`/${path}`, (request, reply) => sendFile(request, reply, file, cache));
  }
  const shell = (request: FastifyRequest, reply: FastifyReply) => sendFile(request, reply, shellFile, SHELL_CACHE);
  app.get('/', shell);
  app.setNotFoundHandler((request, reply) => {
    if (isPageRoute(request)) return shell(request, reply);
    return reply.code(404).send({ message: `Route ${request.method}:${request.url} not found`, error: 'Not Found', statusCode: 404 });
  });
  return true;
}

interface WebFile {
  readonly type: string;
  readonly body: Buffer;
  readonly compressible: boolean;
  gzip?: Buffer;
  readonly etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

async function loadFiles(root: string): Promise<Map<string, WebFile>> {
  const files = new Map<string, WebFile>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const body = await readFile(full);
    const type = TYPES[extname(entry.name)] ?? 'application/octet-stream';
    const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
    files.set(relative(root, full).split(sep).join('/'), {
      type,
      body,
      compressible,
      etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"`,
    });
  }
  return files;
}

function sendFile(request: FastifyRequest, reply: FastifyReply, file: WebFile, cache: string): FastifyReply {
  reply.header('cache-control', cache).header('etag', file.etag).header('vary', 'accept-encoding').type(file.type);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  if (file.compressible && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
    file.gzip ??= gzipSync(file.body);
    return reply.header('content-encoding', 'gzip').send(file.gzip);
  }
  return reply.send(file.body);
}

function isPageRoute(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  // A browser navigating asks for text/html; fetch(), EventSource and scripts do not.
  if (!request.headers.accept?.includes('text/html')) return false;
  const path = request.url.split('?', 1)[0] ?? '';
  const last = path.slice(path.lastIndexOf('/') + 1);
  return !last.includes('.');
}
