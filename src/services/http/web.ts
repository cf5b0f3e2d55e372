/**
 * porter's web UI on the web server: the built app (dist/web, from web/) as static files, hashed
 * assets cached for a year, and the app's shell (index.html) for `/` and every other page route.
 */
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  const assets = join(root, 'assets') + sep;
  const { default: fastifyStatic } = await import('@fastify/static');
  await app.register(fastifyStatic, {
    root,
    // The shell is answered by the routes below, for page paths only, not as any folder's index.
    index: false,
    cacheControl: false,
    setHeaders: (reply, path) => {
      reply.header('cache-control', path.startsWith(assets) ? ASSET_CACHE : SHELL_CACHE);
    },
  });

  const shell = (_request: FastifyRequest, reply: FastifyReply) => reply.sendFile('index.html');
  app.get('/', shell);
  app.setNotFoundHandler((request, reply) => {
    if (isPageRoute(request)) return shell(request, reply);
    return reply.code(404).send({ message: `Route ${request.method}:${request.url} not found`, error: 'Not Found', statusCode: 404 });
  });
  return true;
}

function isPageRoute(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  // A browser navigating asks for text/html; fetch(), EventSource and scripts do not.
  if (!request.headers.accept?.includes('text/html')) return false;
  const path = request.url.split('?', 1)[0] ?? '';
  const last = path.slice(path.lastIndexOf('/') + 1);
  return !last.includes('.');
}
