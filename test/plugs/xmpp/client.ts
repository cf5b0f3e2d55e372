// A second XMPP client for tests (a helpline client on the anonymous host, or a staff account):
// an @xmpp/client connection that records every stanza and joins, speaks in and leaves rooms.
import { type Client, client, xml } from '@xmpp/client';

export type Element = ReturnType<typeof xml>;
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

export class TestClient {
  readonly stanzas: Element[] = [];
  readonly #xmpp: Client;
  readonly #waiters = new Set<(stanza: Element) => void>();

  private constructor(xmpp: Client) {
    this.#xmpp = xmpp;
    xmpp.on('stanza', (stanza: Element) => {
      this.stanzas.push(stanza);
      for (const waiter of [...this.#waiters]) waiter(stanza);
    });
    xmpp.on('error', () => {});
  }

  /** Logs in as `username` on `domain`, or anonymously when no username is given. */
  static async connect(service: string, domain: string, username?: string, password?: string): Promise<TestClient> {
    const xmpp = client({ service, domain, username, password, resource: `test-${Math.random().toString(36).slice(2, 8)}` });
    xmpp.reconnect.stop();
    const c = new TestClient(xmpp);
    await xmpp.start();
    await xmpp.send(xml('presence'));
    return c;
  }

  get jid(): string {
    return String(this.#xmpp.jid);
  }

  /** The first stanza, already received or still to come, that passes `test`. */
  waitFor(what: string, test: (stanza: Element) => boolean, ms = 20_000): Promise<Element> {
    const seen = this.stanzas.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`${this.jid} did not receive ${what} within ${ms} ms`));
      }, ms);
      const waiter = (stanza: Element): void => {
        if (!test(stanza)) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(stanza);
      };
      this.#waiters.add(waiter);
    });
  }

  /** Joins `room` as `nick`: resolves 'joined' or the error condition the room answered. */
  async join(room: string, nick: string, password?: string): Promise<string> {
    const x = xml('x', { xmlns: NS_MUC }, xml('history', { maxstanzas: '0' }));
    if (password) x.append(xml('password', {}, password));
    const to = `${room}/${nick}`;
    // Only answers after this request count, not those to an earlier join of the same room.
    const mark = this.stanzas.length;
    const answer = this.waitFor(
      `an answer to joining ${to}`,
      (s) =>
        this.stanzas.indexOf(s) >= mark &&
        s.is('presence') &&
        s.attrs.from === to &&
        (s.attrs.type === 'error' || (s.attrs.type !== 'unavailable' && statusCodes(s).has('110'))),
    );
    await this.#xmpp.send(xml('presence', { to }, x));
    return errorCondition(await answer) ?? 'joined';
  }

  /** Accepts the default configuration of a room this client just created (an instant room), which unlocks it. */
  async unlock(room: string): Promise<void> {
    const form = xml('x', { xmlns: 'jabber:x:data', type: 'submit' });
    await this.#xmpp.iqCaller.request(
      xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, form)),
    );
  }

  async say(room: string, text: string): Promise<void> {
    await this.#xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('body', {}, text)));
  }

  /** Sends a one-to-one chat message. */
  async chat(to: string, text: string): Promise<void> {
    await this.#xmpp.send(xml('message', { to, type: 'chat' }, xml('body', {}, text)));
  }

  /** Leaves `room` with a status text (a helpline client's clean exit says `Clean Exit`). */
  async leave(room: string, nick: string, status?: string): Promise<void> {
    const presence = xml('presence', { to: `${room}/${nick}`, type: 'unavailable' });
    if (status) presence.append(xml('status', {}, status));
    await this.#xmpp.send(presence);
  }

  /** Loses the connection: the socket goes away without a word, as when a browser tab dies. */
  drop(): void {
    const socket = (this.#xmpp as unknown as { socket?: { destroy(): void } }).socket;
    socket?.destroy();
  }

  async stop(): Promise<void> {
    await this.#xmpp.stop().catch(() => {});
  }
}

export function statusCodes(stanza: Element): Set<string> {
  const x = stanza.getChild('x', NS_MUC_USER);
  return new Set((x?.getChildren('status') ?? []).map((s) => String(s.attrs.code)));
}

/** The defined condition of an error stanza, or undefined when it is no error. */
export function errorCondition(stanza: Element): string | undefined {
  if (stanza.attrs.type !== 'error') return undefined;
  const error = stanza.getChild('error');
  const condition = error?.children.find(
    (c) => typeof c !== 'string' && c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text',
  );
  return typeof condition === 'object' ? condition.name : 'unknown';
}
