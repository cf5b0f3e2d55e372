/** The auth server in another process, over IPC (`verify`, `auth`): what SMTP in, POP3 and the mailboxes ask of the users. */
import type { RemotePeer } from '../ipc/peer.js';
import { IpcError } from '../protocol.js';

/**
 * Answers as `MailUsers` does, but over IPC: `verify` true on `ok`, `authenticate` the canonical
 * name the server answers (`ok: alice@example.org`) or undefined on `error`. A server that cannot
 * be reached makes both reject (PeerUnreachableError), so that SMTP in answers 4xx and POP3
 * `-ERR [SYS/TEMP]`, never "no such user".
 */
export class RemoteUsers {
  readonly #peer: RemotePeer;

  constructor(peer: RemotePeer) {
    this.#peer = peer;
  }

  async verify(name: string): Promise<boolean> {
    return (await this.#peer.request('verify', [name])).ok;
  }

  async authenticate(name: string, password: string): Promise<string | undefined> {
    const reply = await this.#peer.request('auth', [name, password]);
    if (!reply.ok) return undefined;
    if (reply.value === undefined || reply.value === '')
      throw new IpcError(`the auth server at ${this.#peer.address} answered no user name`);
    return reply.value;
  }
}
