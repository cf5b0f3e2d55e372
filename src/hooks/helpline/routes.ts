/**
 * The helpline's HTTP API (JSON): clients join and follow the queue by ticket; staff, each
 * with their own bearer token, take rooms, end and block chats, read transcripts and statistics.
 */
import { z } from 'zod';
import { sameSecret } from '../../core/secret.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '../../services/http/index.js';
import type { HelplineDesk, TicketView } from './desk.js';
import { helplineStats } from './stats.js';

export interface RouteOptions {
  readonly closedMessage: string;
  /** The longest a `GET /queue/:ticket?wait=` long poll is held, in ms. */
  readonly maxWaitMs: number;
}

const ticketParams = z.strictObject({ ticket: z.string().regex(/^[\w-]{10,64}$/, 'expected a ticket') });
const staffParams = z.strictObject({ id: z.string().min(1) });
const roomParams = z.strictObject({ room: z.string().min(1).max(300) });
const pollQuery = z.strictObject({
  /** Seconds to hold the request until the answer differs from `position`. */
  wait: z.coerce.number().min(0).max(120).default(0),
  /** The position the client last showed. */
  position: z.coerce.number().int().min(0).optional(),
});

/** Parses `value` or answers 400 naming the field; undefined when answered. */
function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply, where: string): T | undefined {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = [where, ...(issue?.path ?? [])].join('.');
  void reply.code(400).send({ error: `${field}: ${issue?.message ?? 'invalid'}` });
  return undefined;
}

export function registerHelplineRoutes(app: FastifyInstance, prefix: string, desk: HelplineDesk, options: RouteOptions): void {
  /** The staff member whose bearer token the request carries, or a 401 already sent. */
  const staffOf = (request: FastifyRequest, reply: FastifyReply): string | undefined => {
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const id = token ? desk.staffByToken(token, sameSecret) : undefined;
    if (!id) void reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'staff routes need Authorization: Bearer TOKEN' });
    return id;
  };

  // What a page needs before anything else: where the rooms are, and whether a client would be served now.
  app.get(prefix, async (_request, reply) => {
    const open = (await desk.store.staffOnDuty()) > 0;
    return reply.send({ chat: desk.chat, open, ...(open ? {} : { message: options.closedMessage }) });
  });

  app.post(`${prefix}/queue`, async (request, reply) => {
    const fingerprint = desk.fingerprint(request.ip);
    if (await desk.store.blocked(fingerprint)) return reply.code(403).send({ error: 'you cannot start a chat' });
    if ((await desk.store.staffOnDuty()) === 0) return reply.send({ status: 'closed', message: options.closedMessage });
    const row = await desk.enqueue(fingerprint);
    return reply.code(201).send({ ticket: row.ticket, ...(await desk.view(row)) });
  });

  app.get(`${prefix}/queue/:ticket`, async (request, reply) => {
    const params = parse(ticketParams, request.params, reply, 'params');
    const query = params && parse(pollQuery, request.query, reply, 'query');
    if (!params || !query) return reply;
    const read = async (): Promise<TicketView | undefined> => {
      const row = await desk.store.ticket(params.ticket);
      return row && desk.view(row);
    };
    let view = await read();
    if (!view) return reply.code(404).send({ error: `no ticket ${params.ticket}` });
    // Long poll: held until the answer differs from what the client shows, or `wait` ends.
    const unchanged = (v: TicketView) => v.status === 'waiting' && query.position !== undefined && v.position === query.position;
    const deadline = Date.now() + Math.min(query.wait * 1000, options.maxWaitMs);
    while (view && unchanged(view) && Date.now() < deadline) {
      await changeOrTimeout(desk, Math.min(1000, deadline - Date.now()));
      view = await read();
    }
    return reply.send(view ?? { status: 'left' });
  });

  app.delete(`${prefix}/queue/:ticket`, async (request, reply) => {
    const params = parse(ticketParams, request.params, reply, 'params');
    if (!params) return reply;
    if (!(await desk.store.leaveQueue(params.ticket))) return reply.code(409).send({ error: 'the ticket is not waiting' });
    desk.changes.emit('changed');
    return reply.send({ status: 'left' });
  });

  app.post(`${prefix}/staff/:id/available`, async (request, reply) => {
    const params = parse(staffParams, request.params, reply, 'params');
    const staff = params && staffOf(request, reply);
    if (!params || !staff) return reply;
    if (staff !== params.id) return reply.code(403).send({ error: `the token is not ${params.id}'s` });
    const room = await desk.staffAvailable(staff);
    if (room === 'limit') return reply.code(409).send({ error: 'you hold as many rooms as you may' });
    if (room === 'none') return reply.code(503).send({ error: 'no room is ready; try again shortly' });
    return reply.send({ room: room.room, password: room.password, chat: desk.chat });
  });

  app.get(`${prefix}/staff/:id`, async (request, reply) => {
    const params = parse(staffParams, request.params, reply, 'params');
    const staff = params && staffOf(request, reply);
    if (!params || !staff) return reply;
    if (staff !== params.id) return reply.code(403).send({ error: `the token is not ${params.id}'s` });
    const rooms = (await desk.store.rooms()).filter((r) => r.staff === staff);
    const waiting = await desk.store.waiting();
    const now = Date.now();
    return reply.send({
      chat: desk.chat,
      rooms: rooms.map((r) => ({ room: r.room, password: r.password, state: r.state, since: new Date(r.state_at).toISOString() })),
      queue: waiting.map((t, i) => ({ position: i + 1, waitingSeconds: Math.round((now - t.created_at) / 1000) })),
    });
  });

  const ownRoom = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = parse(roomParams, request.params, reply, 'params');
    const staff = params && staffOf(request, reply);
    if (!params || !staff) return undefined;
    const row = await desk.store.room(params.room);
    if (!row || row.staff !== staff) {
      void reply.code(404).send({ error: `no room ${params.room} of yours` });
      return undefined;
    }
    return row;
  };

  app.post(`${prefix}/rooms/:room/end`, async (request, reply) => {
    const row = await ownRoom(request, reply);
    if (!row) return reply;
    await desk.end(row);
    return reply.send({ room: row.room, state: (await desk.store.room(row.room))?.state });
  });

  app.post(`${prefix}/rooms/:room/block`, async (request, reply) => {
    const row = await ownRoom(request, reply);
    if (!row) return reply;
    const ticket = row.ticket ? await desk.store.ticket(row.ticket) : undefined;
    if (!ticket) return reply.code(409).send({ error: 'no client in this room' });
    await desk.store.block(ticket.fingerprint, row.staff ?? '');
    await desk.end(row);
    return reply.send({ room: row.room, blocked: true });
  });

  app.get(`${prefix}/transcripts`, async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff) return reply;
    const conversations = await desk.store.conversations();
    return reply.send({
      conversations: conversations.map((c) => ({
        room: c.room,
        staff: c.staff,
        started: new Date(c.started_at).toISOString(),
        ended: c.ended_at === null ? null : new Date(c.ended_at).toISOString(),
      })),
    });
  });

  app.get(`${prefix}/transcripts/:room`, async (request, reply) => {
    const params = parse(roomParams, request.params, reply, 'params');
    const staff = params && staffOf(request, reply);
    if (!params || !staff) return reply;
    const conversation = await desk.store.conversation(params.room);
    if (!conversation) return reply.code(404).send({ error: `no conversation in ${params.room}` });
    const messages = await desk.store.messages(params.room);
    const changes = await desk.store.changes(params.room);
    return reply.send({
      room: params.room,
      staff: conversation.staff,
      messages: messages.map((m) => ({ author: m.author, body: m.body, at: new Date(m.at).toISOString() })),
      states: changes.map((c) => ({ from: c.from_state, to: c.to_state, at: new Date(c.at).toISOString() })),
    });
  });

  app.get(`${prefix}/stats`, async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff) return reply;
    const tickets = await desk.store.pairedTickets();
    // Each paired client's wait, newest first, beside the summary.
    const waits = tickets
      .filter((t): t is typeof t & { paired_at: number } => t.paired_at !== null)
      .sort((a, b) => b.paired_at - a.paired_at)
      .map((t) => ({ paired: new Date(t.paired_at).toISOString(), seconds: Math.round((t.paired_at - t.created_at) / 100) / 10 }));
    return reply.send({ ...helplineStats(tickets, await desk.store.conversations()), waits });
  });
}

function changeOrTimeout(desk: HelplineDesk, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      desk.changes.off('changed', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(ms, 0));
    desk.changes.once('changed', done);
  });
}
