// The Joyce client against porter's Joyce server, a server that restarts, and servers that misbehave.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { JoyceClient, type JoyceClientOptions } from '../../../src/hooks/occupancy/joyce/client.js';
import { JoyceServer } from '../../../src/hooks/occupancy/joyce/server.js';
import { type ClientLink, type OccupancyEndpoint, Serialized, type Session } from '../../../src/hooks/occupancy/protocol.js';
import { until } from '../../helpers/wait.js';

/** Stands in for the occupancy service: welcomes, echoes what it is sent as an error, and lets the test deliver. */
class FakeEndpoint implements OccupancyEndpoint {
  seq = 0;
  readonly links: ClientLink[] = [];
  readonly handled: unknown[] = [];

  openSession(link: ClientLink): Session {
    this.links.push(link);
    link.deliver([new Serialized({ type: 'welcome', protocols: [1] }), new Serialized({ type: 'tags', version: 1, tags: [] })], 0);
    return {
      handle: (message) => {
        this.handled.push(message);
        link.deliver([new Serialized({ type: 'error', message: 'echo', request: message })], 0);
      },
      close: () => {},
    };
  }

  /** Delivers numbered messages to every channel. */
  tell(...ns: number[]): void {
    const messages = ns.map((n) => new Serialized({ type: 'tags', version: n, tags: [] }));
    for (const link of this.links) link.deliver(messages, 0);
  }
}

interface Master {
  app: FastifyInstance;
  endpoint: FakeEndpoint;
  port: number;
}

async function master(port = 0, options: { pollTimeoutMs?: number } = {}): Promise<Master> {
  const endpoint = new FakeEndpoint();
  const app = fastify({ forceCloseConnections: true });
  new JoyceServer({ endpoint, ...options }).register(app, '/joyce');
  await app.listen({ host: '127.0.0.1', port });
  return { app, endpoint, port: (app.server.address() as AddressInfo).port };
}

const cleanup: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A client that records what it gets; stopped after the test. */
function client(url: string, options: Partial<JoyceClientOptions> = {}) {
  const batches: unknown[][] = [];
  const errors: { error: Error; retryInMs: number }[] = [];
  let resets = 0;
  const c = new JoyceClient({
    url,
    backoffFirstMs: 20,
    backoffMaxMs: 100,
    onMessages: (m) => void batches.push([...m]),
    onError: (error, retryInMs) => void errors.push({ error, retryInMs }),
    onReset: () => {
      resets++;
      batches.push(['RESET']);
    },
    ...options,
  });
  cleanup.push(() => c.stop());
  return {
    c,
    batches,
    errors,
    resets: () => resets,
    /** Every message received, flattened, as its type or version. */
    seen: () =>
      batches
        .flat()
        .map((m) => (typeof m === 'string' ? m : ((m as { version?: number; type: string }).version ?? (m as { type: string }).type))),
  };
}

const url = (port: number) => `http://127.0.0.1:${port}/joyce/`;

describe('JoyceClient', () => {
  it('opens a channel with its own token, sends, and receives pushes in order', async () => {
    const m = await master();
    cleanup.push(() => m.app.close());
    const { c, batches, seen } = client(url(m.port), { token: 'mirror-1' });
    c.send({ type: 'hello' });
    c.start();
    await until(() => seen().includes('error'));
    expect(c.token).toBe('mirror-1');
    expect(batches[0]?.map((x) => (x as { type: string }).type)).toEqual(['welcome', 'tags']);
    expect(m.endpoint.handled).toEqual([{ type: 'hello' }]);
    m.endpoint.tell(10, 11);
    m.endpoint.tell(12);
    c.send({ type: 'again' });
    m.endpoint.tell(13);
    await until(() => seen().includes(13));
    expect(seen().filter((x) => typeof x === 'number' && x >= 10)).toEqual([10, 11, 12, 13]);
    expect(m.endpoint.handled).toEqual([{ type: 'hello' }, { type: 'again' }]);
  });

  it('delivers answers in the order of their requests even when a later one arrives first', async () => {
    // A server that answers the held poll only after answering the request that superseded it.
    let held: ServerResponse | undefined;
    let n = 0;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const [token] = JSON.parse(body) as [string];
        const reply = (r: ServerResponse, messages: unknown[]) => r.end(JSON.stringify([token, messages, []]));
        n++;
        if (n === 1) reply(res, [{ type: 'welcome', protocols: [1] }]);
        else if (n === 2) held = res;
        else if (n === 3) {
          reply(res, [{ type: 'tags', version: 3, tags: [] }]);
          setTimeout(() => held && reply(held, [{ type: 'tags', version: 2, tags: [] }]), 100);
        } else setTimeout(() => reply(res, []), 50);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    cleanup.push(async () => server.closeAllConnections());
    const { c, seen } = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    c.start();
    await until(() => n >= 2);
    c.send({ type: 'get_occupation' });
    await until(() => seen().includes(2) && seen().includes(3));
    expect(seen().slice(0, 3)).toEqual(['welcome', 2, 3]);
  });

  it('reports a second welcome (the server restarted) once, and carries on with the new server on the same port', async () => {
    const first = await master();
    const { c, seen, resets, batches } = client(url(first.port));
    c.start();
    await until(() => seen().includes('welcome'));
    expect(resets()).toBe(0);
    await first.app.close();
    const second = await master(first.port);
    cleanup.push(() => second.app.close());
    await until(() => resets() === 1);
    // The reset comes just before the new welcome.
    const i = batches.findIndex((b) => b[0] === 'RESET');
    expect(batches[i + 1]?.[0]).toMatchObject({ type: 'welcome' });
    second.endpoint.tell(42);
    await until(() => seen().includes(42));
    expect(resets()).toBe(1);
  });

  it('times out a request the server accepts but never answers, and backs off doubling to the maximum', async () => {
    const sockets: Socket[] = [];
    const hung: TcpServer = createTcpServer((s) => void sockets.push(s));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    cleanup.push(
      () =>
        new Promise((r) => {
          for (const s of sockets) s.destroy();
          hung.close(r);
        }),
    );
    const port = (hung.address() as AddressInfo).port;
    const { c, errors } = client(url(port), { requestTimeoutMs: 100, backoffFirstMs: 10, backoffMaxMs: 40 });
    c.start();
    await until(() => errors.length >= 4);
    expect(errors[0]?.error.message).toMatch(/no answer .* within 100 ms/);
    expect(errors.slice(0, 4).map((e) => e.retryInMs)).toEqual([10, 20, 40, 40]);
    expect(sockets.length).toBeGreaterThanOrEqual(4);
  });

  it('retries a refused connection and recovers once a server listens, re-sending what it carried', async () => {
    const probe = await master();
    const port = probe.port;
    await probe.app.close();
    const { c, errors, seen } = client(url(port));
    c.send({ type: 'get_occupation' });
    c.start();
    await until(() => errors.length >= 2);
    const m = await master(port);
    cleanup.push(() => m.app.close());
    await until(() => seen().includes('error'));
    expect(m.endpoint.handled).toEqual([{ type: 'get_occupation' }]);
  });

  it('treats an HTTP error or an answer that is not Joyce as a failure', async () => {
    let mode: 'error' | 'junk' = 'error';
    const server: Server = createServer((_req, res) => {
      if (mode === 'error') {
        res.statusCode = 400;
        res.end('{"error":"nope"}');
      } else res.end('["only", "two"]');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    cleanup.push(async () => server.closeAllConnections());
    const { c, errors } = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    c.start();
    await until(() => errors.length >= 1);
    expect(errors[0]?.error.message).toMatch(/HTTP 400 .*nope/);
    mode = 'junk';
    await until(() => errors.some((e) => /not a Joyce answer/.test(e.error.message)));
  });

  it('stops: aborts the held poll and delivers nothing more; started again it resumes', async () => {
    const m = await master();
    cleanup.push(() => m.app.close());
    const { c, seen } = client(url(m.port));
    c.start();
    await until(() => seen().includes('welcome'));
    await new Promise((r) => setTimeout(r, 50));
    await c.stop();
    expect(c.running).toBe(false);
    const count = seen().length;
    // Once the server has seen the poll go (a message written to a poll the client just dropped is lost: the mirror copes).
    await new Promise((r) => setTimeout(r, 50));
    m.endpoint.tell(7);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen()).toHaveLength(count);
    // Started again, it finds its channel still there: no reset, and what was queued arrives.
    c.start();
    await until(() => seen().includes(7));
  });

  it('keeps going when a listener throws', async () => {
    const m = await master();
    cleanup.push(() => m.app.close());
    let calls = 0;
    const { c } = client(url(m.port), {
      onMessages: () => {
        calls++;
        throw new Error('listener bug');
      },
    });
    c.start();
    await until(() => calls >= 1);
    m.endpoint.tell(1);
    await until(() => calls >= 2);
  });
});
