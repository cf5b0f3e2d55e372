/**
 * The calendar's HTTP API (`/api/calendar/…`, JSON) for the web page, and the feeds calendar
 * clients subscribe to: free/busy (`/calendar/freebusy/ADDRESS.ifb`) and a resource's bookings
 * (`/calendar/bookings/ADDRESS.ics`). Errors are `{ error }` naming the field, with 400/404/409.
 */
import { z } from 'zod';
import { occurrences, parseObject, writeFeed, writeFreeBusy } from '../../calendar/ical/index.js';
import type { FastifyInstance, FastifyReply } from '../../services/http/index.js';
import { type Agent, AnswerError, type CalendarAgents, type OutgoingPart } from './agents.js';
import { DAY, iso, weekOf } from './time.js';

export interface CalendarRoutesContext {
  readonly agents: CalendarAgents;
  /** Sends one agent's mail; resolves with its Message-ID. */
  send(part: OutgoingPart): Promise<string>;
  /** The feeds' URL base, if known (for the VFREEBUSY's URL). */
  readonly baseUrl?: () => string | undefined;
}

const isoTime = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const address = z.email('expected a mail address').toLowerCase();

const answerBody = z.strictObject({
  answer: z.enum(['ACCEPTED', 'DECLINED', 'TENTATIVE', 'COUNTER']),
  counter: z.strictObject({ start: isoTime, end: isoTime }).optional(),
  comment: z.string().max(2000).optional(),
});

const invitationBody = z
  .strictObject({
    from: z.string().min(1),
    summary: z.string().min(1).max(500),
    start: isoTime,
    end: isoTime,
    attendees: z.array(address).min(1, 'name at least one attendee').max(100),
  })
  .refine((b) => b.end > b.start, { path: ['end'], message: 'end must be after start' });

const rangeQuery = z.object({ start: isoTime.optional(), end: isoTime.optional() });

function bad(reply: FastifyReply, error: z.ZodError): FastifyReply {
  const issue = error.issues[0];
  return reply.code(400).send({ error: `${issue?.path.join('.') || 'body'}: ${issue?.message}` });
}

/** Registers every calendar route on `app`. */
export function registerCalendarRoutes(app: FastifyInstance, ctx: CalendarRoutesContext): void {
  const { agents } = ctx;
  const list = (kind: Agent['kind']) => [...agents.byId.values()].filter((a) => a.kind === kind);
  const find = (kind: Agent['kind'], id: string): Agent | undefined => {
    const agent = agents.byId.get(id);
    return agent?.kind === kind ? agent : undefined;
  };

  app.get('/api/calendar/agents', async () => ({
    people: list('person').map((a) => ({ id: a.id, address: a.address, name: a.name ?? a.id, tzid: a.tzid })),
    resources: list('resource').map((a) => ({
      id: a.id,
      address: a.address,
      name: a.name ?? a.id,
      tzid: a.tzid,
      kind: a.resourceKind ?? 'room',
      ...(a.capacity !== undefined ? { capacity: a.capacity } : {}),
      policies: a.policies,
    })),
    pools: list('pool').map((a) => ({ id: a.id, address: a.address, name: a.name ?? a.id, members: a.members })),
  }));

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/api/calendar/people/:id/week', async (request, reply) => {
    const agent = find('person', request.params.id);
    if (!agent) return reply.code(404).send({ error: `id: no person "${request.params.id}"` });
    const q = z.object({ start: date.optional() }).safeParse(request.query);
    if (!q.success) return bad(reply, q.error);
    const week = weekOf(agent.tzid, q.data.start);
    const events = [];
    for (const row of await agents.store.objects(agent.id)) {
      const object = parseObject(row.ics);
      const allDay = /^DTSTART[^:\r\n]*VALUE=DATE[;:]/m.test(row.ics);
      for (const o of occurrences(object, week)) {
        events.push({
          uid: object.uid,
          ...(o.recurrenceId !== undefined ? { recurrenceId: iso(o.recurrenceId) } : {}),
          summary: object.summary ?? '',
          start: iso(o.start),
          end: iso(o.end),
          organizer: object.organizer ?? '',
          status: object.status ?? 'CONFIRMED',
          partstat: row.partstat || (object.organizer === agent.address ? 'ACCEPTED' : 'NEEDS-ACTION'),
          allDay,
        });
      }
    }
    events.sort((a, b) => a.start.localeCompare(b.start));
    const pending = (await agents.store.pending(agent.id)).map((p) => ({
      uid: p.uid,
      method: p.method,
      summary: p.summary,
      organizer: p.sender,
      start: iso(Number(p.start)),
      end: iso(Number(p.end)),
      sequence: p.sequence,
      received: iso(Number(p.received)),
      recurring: Boolean(p.recurring),
    }));
    return { id: agent.id, tzid: agent.tzid, start: iso(week.start), end: iso(week.end), events, pending };
  });

  app.post<{ Params: { id: string; uid: string } }>('/api/calendar/people/:id/pending/:uid', async (request, reply) => {
    const agent = find('person', request.params.id);
    if (!agent) return reply.code(404).send({ error: `id: no person "${request.params.id}"` });
    const body = answerBody.safeParse(request.body ?? {});
    if (!body.success) return bad(reply, body.error);
    const counter = body.data.counter;
    if (counter && counter.end <= counter.start) return reply.code(400).send({ error: 'counter.end: must be after counter.start' });
    try {
      const part = await agents.answer(agent, request.params.uid, body.data.answer, { counter, comment: body.data.comment });
      const messageId = await ctx.send(part);
      return { sent: true, messageId };
    } catch (error) {
      if (error instanceof AnswerError) return reply.code(error.statusCode).send({ error: error.message });
      throw error;
    }
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/api/calendar/resources/:id/bookings',
    async (request, reply) => {
      const agent = find('resource', request.params.id) ?? find('pool', request.params.id);
      if (!agent) return reply.code(404).send({ error: `id: no resource "${request.params.id}"` });
      const q = rangeQuery.safeParse(request.query);
      if (!q.success) return bad(reply, q.error);
      const week = weekOf(agent.tzid, undefined);
      const start = q.data.start ?? week.start;
      const end = q.data.end ?? (q.data.start !== undefined ? start + 7 * DAY : week.end);
      if (end <= start) return reply.code(400).send({ error: 'end: must be after start' });
      const rows = await agents.store.occurrences(agent.id, start, end);
      const bookings = rows.map((r) => ({
        uid: r.uid,
        ...(Number(r.recurrence) ? { recurrenceId: iso(Number(r.recurrence)) } : {}),
        summary: r.summary,
        organizer: r.organizer,
        start: iso(Number(r.start)),
        end: iso(Number(r.end)),
        status: r.expires !== null ? 'HELD' : r.type === 'BUSY-TENTATIVE' ? 'TENTATIVE' : 'CONFIRMED',
      }));
      const decisions = (await agents.store.decisions(agent.id, 50)).map((d) => ({
        at: iso(Number(d.at)),
        uid: d.uid,
        organizer: d.organizer,
        summary: d.summary,
        outcome: d.outcome,
        reason: d.reason,
        policy: d.policy,
      }));
      return { id: agent.id, tzid: agent.tzid, start: iso(start), end: iso(end), bookings, decisions };
    },
  );

  app.get<{ Querystring: Record<string, string> }>('/api/calendar/freebusy', async (request, reply) => {
    const q = rangeQuery
      .extend({ who: z.string().min(1, 'name at least one address'), as: z.string().min(1).optional() })
      .safeParse(request.query);
    if (!q.success) return bad(reply, q.error);
    // `as`: the person whose agent's knowledge fills in for calendars that are not shared.
    const viewer = q.data.as === undefined ? undefined : find('person', q.data.as);
    if (q.data.as !== undefined && !viewer) return reply.code(404).send({ error: `as: no person "${q.data.as}"` });
    const now = Date.now();
    const start = q.data.start ?? now;
    const end = q.data.end ?? start + 7 * DAY;
    if (end <= start) return reply.code(400).send({ error: 'end: must be after start' });
    if (end - start > 366 * DAY) return reply.code(400).send({ error: 'end: at most a year after start' });
    const calendars: Record<string, unknown> = {};
    for (const raw of q.data.who.split(',')) {
      const who = raw.trim().toLowerCase();
      if (!who) continue;
      const agent = agents.byAddress.get(who);
      if (!agent?.prefs.freebusy_sharing) {
        const known = viewer ? await agents.othersBusy(viewer, who, { start, end }) : undefined;
        calendars[who] = known
          ? { busy: known.map((b) => ({ start: iso(b.start), end: iso(b.end), type: b.type })), as: viewer?.id }
          : { unknown: true };
        continue;
      }
      const busy = await agents.busy(agent, { start, end });
      calendars[who] = busy.map((b) => ({ start: iso(b.start), end: iso(b.end), type: b.type }));
    }
    return { start: iso(start), end: iso(end), calendars };
  });

  app.post('/api/calendar/invitations', async (request, reply) => {
    const body = invitationBody.safeParse(request.body ?? {});
    if (!body.success) return bad(reply, body.error);
    const agent = find('person', body.data.from);
    if (!agent) return reply.code(404).send({ error: `from: no person "${body.data.from}"` });
    const { uid, part } = await agents.invite(agent, body.data);
    const messageId = await ctx.send(part);
    return { uid, messageId };
  });

  app.get<{ Params: { file: string } }>('/calendar/freebusy/:file', async (request, reply) => {
    const who = request.params.file.toLowerCase().replace(/\.ifb$/, '');
    const agent = agents.byAddress.get(who);
    if (!agent || !request.params.file.endsWith('.ifb') || !agent.prefs.freebusy_publishing)
      return reply.code(404).send({ error: `address: no published free/busy for "${who}"` });
    const window = agents.publishedWindow();
    const busy = await agents.busy(agent, window);
    const base = ctx.baseUrl?.();
    const text = writeFreeBusy({
      owner: agent.address,
      name: agent.name,
      window,
      busy,
      url: base ? new URL(`calendar/freebusy/${agent.address}.ifb`, base).href : undefined,
    });
    return reply.type('text/calendar; charset=utf-8').send(text);
  });

  app.get<{ Params: { file: string } }>('/calendar/bookings/:file', async (request, reply) => {
    const who = request.params.file.toLowerCase().replace(/\.ics$/, '');
    const agent = agents.byAddress.get(who);
    if (!agent || agent.kind === 'person' || !request.params.file.endsWith('.ics'))
      return reply.code(404).send({ error: `address: no resource "${who}"` });
    const rows = await agents.store.objects(agent.id);
    const objects = rows.filter((r) => r.partstat === 'ACCEPTED' || r.partstat === 'TENTATIVE').map((r) => parseObject(r.ics));
    return reply.type('text/calendar; charset=utf-8').send(writeFeed({ name: agent.name ?? agent.address, objects }));
  });
}
