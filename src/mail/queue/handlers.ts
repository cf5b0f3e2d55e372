// The queue server's IPC messages: the seed's slot, push, pop, subscribe and unsuscribe, plus ack and release.
import { fail, IpcError, type IpcHandlers, type IpcReply, type IpcRequest, ok } from '../protocol.js';
import type { MailQueue, QueueListener } from './queue.js';

/** Delivers `alert: QUEUE` to a subscriber's callback address (`socket://127.0.0.1:14001`, …). */
export type AlertFunction = (callback: string, queue: string) => void;

type Handler = (request: IpcRequest) => Promise<IpcReply>;

/** The request's parameters, exactly as many as the message takes, or a refusal that names them. */
function params(request: IpcRequest, names: readonly string[]): string[] {
  if (request.params.length !== names.length) {
    throw new IpcError(`${request.name} takes ${names.length} parameter(s) (${names.join(' ; ')}), got ${request.params.length}`);
  }
  return request.params.map((param) => param.trim());
}

/** Refusals become `error: …` replies here, so the handlers behave the same whichever IPC layer calls them. */
function guard(handler: Handler): Handler {
  return async (request) => {
    try {
      return await handler(request);
    } catch (error) {
      if (error instanceof IpcError) return fail(error.message);
      throw error;
    }
  };
}

/**
 * `pop` answers the message's path, as in the seed. The seed stops there, so a consumer that
 * crashed after `pop` would lose the message; porter's queue is at-least-once instead (as
 * ZoneMTA's): the message stays leased until `ack: QUEUE ; PATH` deletes it or
 * `release: QUEUE ; PATH` gives it back, and comes back by itself when the lease runs out.
 * A seed client that never acks sees each message again after the lease: duplicates, not loss.
 */
export function queueHandlers(queue: MailQueue, alert?: AlertFunction): IpcHandlers {
  /** `QUEUE\0CALLBACK` → the listener that alerts it; unsubscribing needs the exact string, as the seed says. */
  const callbacks = new Map<string, QueueListener>();

  const unsubscribe = guard(async (request) => {
    const [name, callback] = params(request, ['queue', 'callback']) as [string, string];
    const key = `${name}\0${callback}`;
    const listener = callbacks.get(key);
    if (!listener) {
      queue.stats(name); // an unknown queue is reported as such
      throw new IpcError(`${callback} is not subscribed to queue ${name}`);
    }
    queue.unsubscribe(name, listener);
    callbacks.delete(key);
    return ok();
  });

  return {
    slot: guard(async (request) => {
      const [name] = params(request, ['queue']) as [string];
      return ok(queue.slot(name));
    }),
    push: guard(async (request) => {
      const [name, slot] = params(request, ['queue', 'slot']) as [string, string];
      await queue.push(name, slot);
      return ok();
    }),
    pop: guard(async (request) => {
      const [name] = params(request, ['queue']) as [string];
      return ok(queue.pop(name).path);
    }),
    ack: guard(async (request) => {
      const [name, message] = params(request, ['queue', 'message']) as [string, string];
      await queue.ack(queue.leaseOf(name, message));
      return ok();
    }),
    release: guard(async (request) => {
      const [name, message] = params(request, ['queue', 'message']) as [string, string];
      queue.release(queue.leaseOf(name, message));
      return ok();
    }),
    subscribe: guard(async (request) => {
      const [name, callback] = params(request, ['queue', 'callback']) as [string, string];
      if (callback === '') throw new IpcError('no callback given');
      if (!alert) throw new IpcError('this queue server cannot call subscribers back');
      const key = `${name}\0${callback}`;
      if (!callbacks.has(key)) {
        const listener: QueueListener = (queueName) => alert(callback, queueName);
        queue.subscribe(name, listener);
        callbacks.set(key, listener);
      }
      return ok();
    }),
    unsubscribe,
    // The seed's spelling.
    unsuscribe: unsubscribe,
  };
}
