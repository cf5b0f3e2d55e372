/**
 * The one web server of a porter process (Fastify), with the web UI when it is built. Hooks add
 * routes while they start; the server listens only after every hook has started, and closes first
 * on stop.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from '../../core/log.js';
import type { TrustProxy } from './trust-proxy.js';

export type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface HttpOptions {
  /** `host:port`; port 0 picks a free one. */
  readonly listen: string;
  readonly publicUrl?: string;
  /** Which proxies may give the client's address: Fastify's trustProxy (default false, the TCP peer). */
  readonly trustProxy?: TrustProxy;
  readonly log: Logger;
  /** The built web UI to serve (default: dist/web), or false for none. */
  readonly webRoot?: string | false;
}

export class HttpService {
  readonly app: FastifyInstance;
  /** Whether the web UI is served: its shell then answers `/` and every page route. */
  readonly webUi: boolean;
  readonly #listen: string;
  readonly #publicUrl: string | undefined;
  #url: string | undefined;

  private constructor(app: FastifyInstance, webUi: boolean, options: HttpOptions) {
    this.app = app;
    this.webUi = webUi;
    this.#listen = options.listen;
    this.#publicUrl = options.publicUrl;
  }

  static async create(options: HttpOptions): Promise<HttpService> {
    const { default: fastify } = await import('fastify');
    // Fastify's logger type is narrower than pino's Logger, which it is at run time.
    const loggerInstance = options.log as unknown as FastifyBaseLogger;
    const app: FastifyInstance = fastify({ loggerInstance, forceCloseConnections: true, trustProxy: options.trustProxy ?? false });
    let webUi = false;
    if (options.webRoot !== false) {
      const { serveWebUi, WEB_ROOT } = await import('./web.js');
      const root = options.webRoot ?? WEB_ROOT;
      webUi = await serveWebUi(app, { root });
      if (!webUi) options.log.info({ root }, 'no web UI build here (npm run build makes it); serving the status page at /');
    }
    return new HttpService(app, webUi, options);
  }

  /** Whether it is listening (and `url` is known). */
  get listening(): boolean {
    return this.#url !== undefined;
  }

  /** The base URL once listening (`http://127.0.0.1:8080/`). */
  get url(): string {
    if (!this.#url) throw new Error('the web server is not listening yet');
    return this.#url;
  }

  async listen(): Promise<string> {
    const { host, port } = splitAddress(this.#listen);
    await this.app.listen({ host, port });
    const address = this.app.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    this.#url = this.#publicUrl ?? `http://${shownHost}:${actualPort}/`;
    return this.#url;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

export function splitAddress(listen: string): { host: string; port: number } {
  if (/^\d+$/.test(listen)) return { host: '127.0.0.1', port: Number(listen) };
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(i + 1)) };
}
