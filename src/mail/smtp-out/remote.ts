/** SMTP out in another process, over IPC: `send: from ; to ; slot` for the roles that hand it mail (bounces from local delivery, the mail hook's relaying when split). */
import { writeFile } from 'node:fs/promises';
import type { RemotePeer } from '../ipc/peer.js';

/** What handing a message to SMTP out needs: `SmtpSender` is one, `RemoteSender` another. */
export interface MailSender {
  /** Queues a message for delivery; resolves with its id once it is durable in SMTP out's spool. */
  enqueue(from: string, to: readonly string[], message: Buffer | string): Promise<string>;
}

/** Where `enqueue` gets its slots: the queue server (local or remote) that SMTP out takes them from. */
export interface SlotSource {
  slot(queue: string): string | Promise<string>;
}

export interface RemoteSenderOptions {
  readonly peer: RemotePeer;
  /** The queue server whose slots SMTP out pushes (the same one it runs with). */
  readonly queue: SlotSource;
  /** The queue `send` takes slots of (the mail hook's `send`). */
  readonly queueName: string;
}

/**
 * `send` as the seed has it: take a slot of the queue, write the message into it, then
 * `send: FROM ; TO ; SLOT`, which SMTP out answers with the message's id once it has pushed the
 * slot and moved the message into its spool. The slot's file is in the spool the processes share.
 */
export class RemoteSender implements MailSender {
  readonly #options: RemoteSenderOptions;

  constructor(options: RemoteSenderOptions) {
    this.#options = options;
  }

  /** `send` for a slot that is written already. */
  async send(from: string, to: readonly string[], slot: string): Promise<string> {
    // The null sender is written `<>`: an empty first parameter reads the same, but says less.
    const reply = await this.#options.peer.ask('send', [from === '' ? '<>' : from, to.join(','), slot]);
    return reply.value ?? '';
  }

  async enqueue(from: string, to: readonly string[], message: Buffer | string): Promise<string> {
    const slot = await this.#options.queue.slot(this.#options.queueName);
    // The queue's push makes it durable (fsync of the file and of its folder).
    await writeFile(slot, message, { flag: 'wx', mode: 0o600 });
    return this.send(from, to, slot);
  }
}
