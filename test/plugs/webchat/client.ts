// A web chat client for tests and benchmarks: a real `ws` WebSocket that records every frame
// porter pushes and says hello, joins, speaks in and leaves rooms over the JSON protocol.
import WebSocket from 'ws';

export type Frame = { type: string; ref?: string; code?: string; message?: string; [key: string]: unknown };

let counter = 0;

export class ChatClient {
  readonly frames: Frame[] = [];
  readonly socket: WebSocket;
  address = '';
  token = '';
  /** The close code once the socket closed. */
  closedWith: number | undefined;
  readonly #waiters = new Set<(frame: Frame) => void>();

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      for (const waiter of [...this.#waiters]) waiter(frame);
    });
    socket.on('close', (code) => {
      this.closedWith = code;
    });
    socket.on('error', () => {});
  }

  /** Opens a socket to `url`; rejects with the HTTP status when the upgrade is refused. */
  static connect(url: string, headers: Record<string, string> = {}): Promise<ChatClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.once('open', () => resolve(new ChatClient(socket)));
      socket.once('unexpected-response', (_request, response) => {
        reject(new Error(`upgrade refused: ${response.statusCode}`));
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Sends a frame (an object as JSON, a string or bytes as they are). */
  send(frame: object | string | Buffer): void {
    this.socket.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** The first frame, already received or still to come, that passes `test`. */
  waitFor(what: string, test: (frame: Frame) => boolean, ms = 20_000): Promise<Frame> {
    const seen = this.frames.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`${this.address || 'the client'} did not receive ${what} within ${ms} ms`));
      }, ms);
      const waiter = (frame: Frame): void => {
        if (!test(frame)) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(frame);
      };
      this.#waiters.add(waiter);
    });
  }

  /** Sends `frame` with a fresh id and resolves with porter's answer to it (an error frame included). */
  request(frame: object): Promise<Frame> {
    const id = `r${++counter}`;
    const answer = this.waitFor(`an answer to ${JSON.stringify(frame)}`, (f) => f.ref === id);
    this.send({ ...frame, id });
    return answer;
  }

  /** Says hello (anonymous, as staff, or resuming); resolves with the welcome or the error. */
  async hello(fields: { nick?: string; username?: string; password?: string; resume?: string } = {}): Promise<Frame> {
    const answer = await this.request({ type: 'hello', ...fields });
    if (answer.type === 'welcome') {
      this.address = String(answer.address);
      this.token = String(answer.token);
    }
    return answer;
  }

  /** Joins a room; resolves with `joined` or the error code. */
  async join(room: string, password = '', nick?: string): Promise<string> {
    const answer = await this.request({ type: 'join', room, password, ...(nick ? { nick } : {}) });
    return answer.type === 'joined' ? 'joined' : String(answer.code);
  }

  async say(room: string | undefined, text: string): Promise<Frame> {
    return this.request({ type: 'say', ...(room ? { room } : {}), text });
  }

  /** Ends the connection without a word, as a lost network does. */
  drop(): void {
    this.socket.terminate();
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** Connects and says hello in one step. */
export async function connected(url: string, fields: Parameters<ChatClient['hello']>[0] = {}): Promise<ChatClient> {
  const c = await ChatClient.connect(url);
  const welcome = await c.hello(fields);
  if (welcome.type !== 'welcome') throw new Error(`hello refused: ${welcome.message}`);
  return c;
}
