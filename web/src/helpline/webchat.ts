// The helpline pages' transport over porter's web chat: one WebSocket to the plug's path, speaking
// its JSON frames (src/plugs/webchat/README.md). A socket that drops is resumed with the session's
// token, so a short network hiccup is no lost connection for the room.
import type { ClientFrame, ServerFrame } from '../../../src/plugs/webchat/protocol.js';
import type { ChatConnection, ChatEvents, ChatLogin, ChatReach, Connect } from './transport.js';

/** How long an answer to a frame may take before the call fails. */
const ANSWER_TIMEOUT_MS = 15_000;
/** Waits between tries to resume a dropped socket; their sum stays within the plug's default grace (30 s). */
const RESUME_WAITS_MS = [250, 500, 1000, 2000, 4000, 8000, 8000];

/** What web chat's error codes mean to someone using a page. */
const REASONS: Partial<Record<string, string>> = {
  'not-authorized': 'the user name or password is wrong',
  'not-found': 'there is no such room',
  gone: 'the room has closed',
  kicked: 'you were removed from this room',
  full: 'the room is full',
  conflict: 'that name is taken in the room',
  forbidden: 'you may not join this room',
  'too-many': 'too many chats are open from this address',
  'rate-limited': 'too many messages at once; wait a moment',
};

export class WebChatError extends Error {
  override name = 'WebChatError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Outgoing = ClientFrame extends infer F ? (F extends { type: string } ? Omit<F, 'id' | 'session'> : never) : never;

interface Waiting {
  resolve(frame: ServerFrame): void;
  reject(error: Error): void;
}

function socketUrl(reach: ChatReach, origin: string): string {
  if (reach.kind !== 'webchat') throw new Error(`web chat cannot reach rooms on ${reach.kind}`);
  const url = new URL(reach.path, origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

class WebChatConnection implements ChatConnection {
  readonly #url: string;
  readonly #login: ChatLogin;
  readonly #events: ChatEvents;
  readonly #waiting = new Map<string, Waiting>();
  /** This connection's nick in each room it is in. */
  readonly #nicks = new Map<string, string>();
  #socket: WebSocket | undefined;
  #token: string | undefined;
  #next = 0;
  /** close() was called, or the connection is gone for good. */
  #ended = false;

  constructor(url: string, login: ChatLogin, events: ChatEvents) {
    this.#url = url;
    this.#login = login;
    this.#events = events;
  }

  /** Opens the socket and says hello (a fresh session, or a resume of the one whose token is in hand). */
  async open(): Promise<void> {
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new WebChatError('unreachable', `cannot reach the chat at ${this.#url}`));
      socket.onclose = () => reject(new WebChatError('unreachable', `cannot reach the chat at ${this.#url}`));
    });
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data === 'string') this.#receive(event.data);
    };
    socket.onclose = (event: CloseEvent) => this.#dropped(socket, event.code);
    socket.onerror = null;
    const hello: Outgoing = this.#token
      ? { type: 'hello', resume: this.#token }
      : this.#login.kind === 'staff'
        ? { type: 'hello', username: this.#login.username, password: this.#login.password }
        : { type: 'hello' };
    try {
      const welcome = await this.#request(hello);
      if (welcome.type === 'welcome') this.#token = welcome.token;
    } catch (error) {
      socket.onclose = null;
      socket.close(1000);
      throw error;
    }
  }

  async join(room: string, password: string, nick: string): Promise<void> {
    const answer = await this.#request({ type: 'join', room, password, nick });
    if (answer.type !== 'joined') return;
    this.#nicks.set(room, answer.nick);
    for (const line of answer.history)
      this.#events.line({ room, from: line.from, text: line.text, at: line.at, mine: line.from === answer.nick, history: true });
  }

  async say(room: string, text: string): Promise<void> {
    await this.#request({ type: 'say', room, text });
  }

  async leave(room: string): Promise<void> {
    try {
      await this.#request({ type: 'leave', room });
    } catch (error) {
      // Out already: the room was destroyed, or porter removed us.
      if (!(error instanceof WebChatError && error.code === 'not-in-room')) throw error;
    }
    this.#nicks.delete(room);
  }

  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    const socket = this.#socket;
    if (socket?.readyState === WebSocket.OPEN) {
      // `bye` is a clean leave of every room; porter then closes the socket.
      await this.#request({ type: 'bye' }).catch(() => undefined);
      socket.close(1000);
    }
    this.#nicks.clear();
  }

  /** Sends `frame` with an id and resolves with porter's answer to it, or rejects with its error. */
  #request(frame: Outgoing): Promise<ServerFrame> {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return Promise.reject(new WebChatError('offline', 'not connected to the chat'));
    const id = `f${++this.#next}`;
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new WebChatError('timeout', `no answer from the chat to ${frame.type}`));
      }, ANSWER_TIMEOUT_MS);
      this.#waiting.set(id, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  #receive(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    const ref = 'ref' in frame ? frame.ref : undefined;
    const waiting = ref === undefined ? undefined : this.#waiting.get(ref);
    if (ref !== undefined) this.#waiting.delete(ref);
    switch (frame.type) {
      case 'error':
        waiting?.reject(new WebChatError(frame.code, REASONS[frame.code] ?? frame.message));
        return;
      case 'message':
        if (frame.room !== undefined && !frame.private) {
          const mine = ref !== undefined || frame.from === this.#nicks.get(frame.room);
          this.#events.line({ room: frame.room, from: frame.from, text: frame.text, at: frame.at, mine, history: false });
        }
        break;
      case 'presence':
        this.#events.presence({
          room: frame.room,
          nick: frame.nick,
          event: frame.event,
          ...(frame.clean !== undefined ? { clean: frame.clean } : {}),
          ...(frame.kicked !== undefined ? { kicked: frame.kicked } : {}),
        });
        break;
      case 'kicked':
      case 'destroyed':
        this.#nicks.delete(frame.room);
        this.#events.removed(frame.room, frame.type, frame.reason);
        break;
      default:
        break;
    }
    waiting?.resolve(frame);
  }

  /** The socket closed without close(): resume the session while porter keeps it, else give up. */
  #dropped(socket: WebSocket, code: number): void {
    if (socket !== this.#socket) return;
    for (const waiting of this.#waiting.values()) waiting.reject(new WebChatError('offline', 'the connection to the chat dropped'));
    this.#waiting.clear();
    if (this.#ended) return;
    // 1000: the session ended (bye); 4001: a newer socket took the session over.
    if (code === 1000 || code === 4001 || !this.#token) this.#gone(code === 4001 ? 'the chat was opened elsewhere' : 'the chat ended');
    else void this.#resume();
  }

  async #resume(): Promise<void> {
    for (const wait of RESUME_WAITS_MS) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.#ended) return;
      try {
        await this.open();
        return;
      } catch (error) {
        // The session is gone (porter restarted, or the grace ran out): trying again cannot help.
        if (error instanceof WebChatError && error.code === 'resume-failed') break;
      }
    }
    this.#gone('the connection to the chat was lost');
  }

  #gone(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#nicks.clear();
    this.#events.disconnected(reason);
  }
}

/** Connects to porter's web chat at `reach.path` on `origin`: anonymously, or with a staff account of the plug. */
export const connectWebChat: Connect = async (reach, login, events, origin) => {
  const connection = new WebChatConnection(socketUrl(reach, origin), login, events);
  await connection.open();
  return connection;
};
