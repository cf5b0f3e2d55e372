/**
 * The seams between porter's mail servers (fmail's roles) and their IPC protocol: each server
 * (auth, queue, smtp out, mailbox) answers requests through handlers that know nothing of the
 * wire; the IPC layer (ipc/) reads and writes the seed's notation (`name: p1 ; p2`, `ok: …`,
 * `error: …`, raw bytes of announced length) on Unix sockets and TCP. In one process the servers
 * call each other's handlers directly; split across processes, through IPC clients.
 */

/** One request: the message name (`slot`, `push`, `retr`, …), its parameters, and for raw operations (`store`) the bytes that followed the line. */
export interface IpcRequest {
  readonly name: string;
  readonly params: readonly string[];
  readonly body?: Buffer;
}

/**
 * A reply. `ok` with an optional return value (`ok: 3`), then optionally more lines (`list`'s
 * `mailinfo: 1 ; 2048` lines, after which the IPC layer writes a closing `ok`), then optionally
 * raw bytes (`retr`, whose value is their length). Or `error` with a message for people.
 */
export type IpcReply =
  | { readonly ok: true; readonly value?: string; readonly lines?: readonly string[]; readonly body?: Buffer }
  | { readonly ok: false; readonly error: string };

/** What a server offers over IPC: message name → handler. Names are lower-case. */
export type IpcHandlers = Readonly<Record<string, (request: IpcRequest) => Promise<IpcReply>>>;

/** A handler's refusal: the IPC layer answers `error: MESSAGE` and the connection goes on. */
export class IpcError extends Error {}

export const ok = (value?: string): IpcReply => (value === undefined ? { ok: true } : { ok: true, value });
export const fail = (error: string): IpcReply => ({ ok: false, error });
