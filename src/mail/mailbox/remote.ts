/** The mailbox server in another process, over IPC: `store`, `list`/`mailinfo`, `retr` and `dele` for the roles that deliver to it or read it. */
import type { RemotePeer } from '../ipc/peer.js';
import { IpcError } from '../protocol.js';

/** What delivering needs of a mailbox server: `Mailboxes` is one, `RemoteMailboxes` another. */
export interface MailboxStore {
  /** Resolves once the message is durably in `recipient`'s mailbox; `to` is the envelope address (its `Delivered-To:`). */
  store(to: string, recipient: string, bytes: Buffer): Promise<unknown>;
}

/** A message as `list` and `mailinfo` describe it: its number in the listing and its size in octets. */
export interface RemoteMessageInfo {
  readonly number: number;
  readonly size: number;
}

/**
 * The seed's mailbox messages over IPC. `retr`, `mailinfo` and `dele` number messages by the
 * server's last `list` of that user, as the seed has it. Every `error:` reply throws IpcError with
 * the server's words; a server that cannot be reached rejects with PeerUnreachableError. Neither
 * is a `MailboxError`: over the wire a refusal cannot be told from a failure (a full disk), so a
 * caller retries rather than bounce.
 */
export class RemoteMailboxes implements MailboxStore {
  readonly #peer: RemotePeer;

  constructor(peer: RemotePeer) {
    this.#peer = peer;
  }

  async store(to: string, recipient: string, bytes: Buffer): Promise<void> {
    await this.#peer.ask('store', [to, recipient, String(bytes.length)], bytes);
  }

  async list(user: string): Promise<RemoteMessageInfo[]> {
    const reply = await this.#peer.ask('list', [user]);
    return (reply.lines ?? []).map((line) => this.#info(line.replace(/^mailinfo:/i, '')));
  }

  async mailinfo(user: string, number: number): Promise<RemoteMessageInfo> {
    return this.#info((await this.#peer.ask('mailinfo', [user, String(number)])).value ?? '');
  }

  async retr(user: string, number: number): Promise<Buffer> {
    const reply = await this.#peer.ask('retr', [user, String(number)]);
    return reply.body ?? Buffer.alloc(0);
  }

  async dele(user: string, number: number): Promise<void> {
    await this.#peer.ask('dele', [user, String(number)]);
  }

  /** `number ; size`, from a `mailinfo` line or reply. */
  #info(text: string): RemoteMessageInfo {
    const match = /^\s*(\d+)\s*;\s*(\d+)\s*$/.exec(text);
    if (!match) throw new IpcError(`the mailbox server at ${this.#peer.address} sent "${text}" where "number ; size" belongs`);
    return { number: Number(match[1]), size: Number(match[2]) };
  }
}
