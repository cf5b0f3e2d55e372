/**
 * The occupancy hook: porter's occupancy board (tkbd). It keeps which lab PCs are free per room
 * and tag, takes pushes at `/push`, serves tkbd's Joyce long polling and WebSocket/SSE streams,
 * records every change in the store, reads each room's schedule from an iCalendar source, and
 * can follow another porter or tkbd as a mirror. See README.md beside this file for its config.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import type { ConfigRefs } from '../../core/component.js';
import { Hook } from '../../core/hook.js';
import { sameSecret } from '../../core/secret.js';
import type { FastifyReply, FastifyRequest } from '../../services/http/index.js';
import { OCCUPANCY_MIGRATION_OWNER, OccupancyHistory, occupancyMigrations } from './history.js';
import { JoyceServer } from './joyce/server.js';
import { OccupancyMirror } from './mirror.js';
import type { PcState, RoomMap } from './protocol.js';
import { PushBodyError, parsePushBody } from './push.js';
import { checkLayout, type LayoutConfig, layoutShape, RoomLayout } from './rules.js';
import { ScheduleSource, scheduleSourceSchema } from './schedule.js';
import { OccupancyQueryError, OccupancyService } from './service.js';
import type { PcUpdate } from './state.js';
import { OccupancyStreams } from './stream.js';

const routePath = z.string().regex(/^\/[\w\-./]*$/, 'expected a path starting with "/"');
const seconds = z.number().positive();

export const occupancyConfigSchema = (_refs: ConfigRefs) =>
  z
    .strictObject({
      ...layoutShape,
      /** room → where its reservations come from: an .ics file or URL. */
      schedule: z.record(z.string(), scheduleSourceSchema()).default({}),
      push: z
        .union([
          z.literal(false),
          z.strictObject({
            path: routePath.default('/push'),
            /** Senders must send `Authorization: Bearer TOKEN`. */
            token: z.string().min(8, 'the push token must be at least 8 characters'),
            /** If given, only these addresses (exact IPs) may push, besides knowing the token. */
            allow: z.array(z.string().refine((a) => isIP(a) !== 0, 'expected an IP address')).optional(),
          }),
        ])
        .default(false),
      joyce: z
        .union([
          z.literal(false),
          z.strictObject({
            path: routePath.default('/joyce'),
            'poll-timeout': seconds.default(20),
            expiry: seconds.default(20),
          }),
        ])
        .default({ path: '/joyce', 'poll-timeout': 20, expiry: 20 }),
      /** WebSocket at PATH/ws, SSE at PATH/stream, the history API at PATH/api/history. */
      streams: routePath.default('/occupancy'),
      mirror: z
        .strictObject({
          /** The master's Joyce URL (porter: `http://host:port/joyce`; tkbd: `http://host:port/`). */
          url: z.url(),
          token: z.string().min(1).optional(),
          'request-timeout': seconds.default(30),
        })
        .optional(),
      /** A simulated lab for demos: random PCs change state every `every` seconds. */
      simulate: z.strictObject({ every: seconds.default(3), pcs: z.array(z.string().min(1)).min(1) }).optional(),
    })
    .superRefine((cfg, ctx) => {
      checkLayout(cfg as LayoutConfig, ctx);
      for (const room of Object.keys(cfg.schedule)) {
        if (!(room in cfg.rooms)) ctx.addIssue({ code: 'custom', path: ['schedule', room], message: `unknown room "${room}"` });
      }
      if (cfg.mirror && cfg.push !== false) {
        ctx.addIssue({ code: 'custom', path: ['push'], message: 'a mirror takes its state from the master: set push to false' });
      }
    });

export type OccupancyConfig = z.output<ReturnType<typeof occupancyConfigSchema>>;

const HISTORY_FORMATS = ['json', 'csv'] as const;
/** A scan of every PC of a big faculty is a few hundred KB; 8 MB leaves room and bounds abuse. */
const PUSH_BODY_LIMIT = 8 * 1024 * 1024;

const historyQuerySchema = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  pc: z.string().optional(),
  room: z.string().optional(),
  tag: z.string().optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(0).max(100_000).default(1000),
  format: z.enum(HISTORY_FORMATS).default('json'),
});

const list = (value: string | undefined): string[] | undefined =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

export class OccupancyHook extends Hook<OccupancyConfig> {
  static readonly configSchema = occupancyConfigSchema;
  static readonly migrations = occupancyMigrations;
  static readonly migrationOwner = OCCUPANCY_MIGRATION_OWNER;

  #service: OccupancyService | undefined;
  #history: OccupancyHistory | undefined;
  #joyce: JoyceServer | undefined;
  #streams: OccupancyStreams | undefined;
  #schedule: ScheduleSource | undefined;
  #mirror: OccupancyMirror | undefined;
  #simulation: NodeJS.Timeout | undefined;

  /** The service behind every route (for tests and other hooks). */
  get service(): OccupancyService {
    if (!this.#service) throw new Error(`occupancy hook "${this.name}" is not open`);
    return this.#service;
  }

  protected override async start(): Promise<void> {
    const cfg = this.config;
    const layout = RoomLayout.compile({
      rooms: cfg.rooms,
      aliases: cfg.aliases,
      ignore: cfg.ignore,
      catchAll: cfg.catchAll,
      tags: cfg.tags,
    });
    this.#history = new OccupancyHistory(this.host.store, this.name, this.log);
    this.#service = await OccupancyService.open({ layout, history: this.#history, log: this.log });
    const http = this.host.http;
    if (http) {
      const app = http.app;
      if (cfg.joyce) {
        this.#joyce = new JoyceServer({
          endpoint: this.#service,
          pollTimeoutMs: cfg.joyce['poll-timeout'] * 1000,
          channelExpiryMs: cfg.joyce.expiry * 1000,
          log: this.log,
        });
        this.#joyce.register(app, cfg.joyce.path);
      }
      this.#streams = new OccupancyStreams(this.#service, { log: this.log });
      await this.#streams.register(app, cfg.streams);
      app.get(`${cfg.streams}/api/history`, (request, reply) => this.#historyRoute(request, reply));
      if (cfg.push) {
        const push = cfg.push;
        await app.register(async (scope) => {
          // tkbd's push scripts post JSON under whatever content type their HTTP library picks
          // (Python's urllib says form-encoded): read every body as JSON, in this scope only.
          scope.removeAllContentTypeParsers();
          scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: PUSH_BODY_LIMIT }, (_request, body, done) => {
            try {
              done(null, JSON.parse(body as string));
            } catch (error) {
              done(Object.assign(new Error(`the body is not JSON: ${(error as Error).message}`), { statusCode: 400 }), undefined);
            }
          });
          scope.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
            reply.code(error.statusCode && error.statusCode < 500 ? error.statusCode : 500).send({ error: error.message });
          });
          // Who may push is settled before the body is read.
          scope.addHook('onRequest', async (request, reply) => {
            if (push.allow && !push.allow.includes(request.ip))
              return reply.code(403).send({ error: `address ${request.ip} may not push` });
            if (!sameSecret(request.headers.authorization ?? '', `Bearer ${push.token}`)) {
              return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'a push needs Authorization: Bearer TOKEN' });
            }
            return undefined;
          });
          scope.post(push.path, (request, reply) => this.#pushRoute(request, reply));
        });
      }
      const tag = Object.keys(cfg.tags)[0];
      this.host.serve(`occupancy board {web}/board${tag ? `?tag=${encodeURIComponent(tag)}` : ''}`);
      if (cfg.joyce) this.host.serve(`occupancy Joyce {web}${cfg.joyce.path}`);
      this.host.serve(`occupancy streams {web}${cfg.streams}/ws, {web}${cfg.streams}/stream`);
      if (cfg.push) this.host.serve(`occupancy push POST {web}${cfg.push.path}`);
    } else {
      this.log.warn('no http section in the config: the occupancy board has no routes');
    }
    if (Object.keys(cfg.schedule).length > 0) {
      this.#schedule = new ScheduleSource({
        rooms: cfg.schedule,
        baseDir: this.host.config.baseDir,
        log: this.log,
        onSchedule: (room, reservations) => this.#service?.setSchedule(room, reservations),
      });
      void this.#schedule.start();
    }
    if (cfg.mirror) this.#startMirror(cfg.mirror);
    if (cfg.simulate) this.#startSimulation(cfg.simulate.every, cfg.simulate.pcs);
  }

  protected override async stop(): Promise<void> {
    clearInterval(this.#simulation);
    this.#simulation = undefined;
    await this.#mirror?.stop();
    await this.#schedule?.close();
    this.#joyce?.close();
    await this.#streams?.close();
    await this.#service?.close();
  }

  /** Applies updates from inside porter (the mirror, the simulation): a refusal is logged, not thrown. */
  #applyOwn(updates: readonly PcUpdate[], what: string): void {
    if (updates.length === 0) return;
    try {
      this.service.applyPush(updates);
    } catch (error) {
      this.log.warn({ err: error }, `cannot apply ${what}`);
    }
  }

  // `POST /push`: tkbd's body; answers `true`, or 400 with the place of the problem.
  async #pushRoute(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    let updates: PcUpdate[];
    try {
      updates = parsePushBody(request.body, this.service.state.layout);
    } catch (error) {
      if (error instanceof PushBodyError) return reply.code(400).send({ error: error.message });
      throw error;
    }
    try {
      this.service.applyPush(updates);
    } catch (error) {
      // An unplaced PC is caught by parsePushBody; anything here is a bad batch, applied not at all.
      return reply.code(400).send({ error: (error as Error).message });
    }
    return reply.type('application/json').send('true');
  }

  // `GET PATH/api/history`: changes by time range and PC/room/tag, as JSON or CSV.
  async #historyRoute(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const parsed = historyQuerySchema.safeParse(request.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return reply.code(400).send({ error: `${issue?.path.join('.') || 'query'}: ${issue?.message}` });
    }
    const q = parsed.data;
    let page: Awaited<ReturnType<OccupancyService['queryHistory']>>;
    try {
      page = await this.service.queryHistory({
        from: q.from ? Date.parse(q.from) : undefined,
        to: q.to ? Date.parse(q.to) : undefined,
        pcs: list(q.pc)?.map((p) => p.toLowerCase()),
        rooms: list(q.room),
        tags: list(q.tag),
        offset: q.offset,
        limit: q.limit,
      });
    } catch (error) {
      if (error instanceof OccupancyQueryError) return reply.code(400).send({ error: error.message });
      throw error;
    }
    if (q.format === 'csv') {
      const lines = ['seq,time,pc,source,state'];
      for (const r of page.records) lines.push([r.seq, new Date(r.at).toISOString(), csv(r.pc), csv(r.source), r.state].join(','));
      return reply
        .type('text/csv; charset=utf-8')
        .header('x-total-count', String(page.total))
        .send(`${lines.join('\n')}\n`);
    }
    return {
      total: page.total,
      offset: page.offset,
      limit: page.limit,
      records: page.records.map((r) => ({ seq: r.seq, time: new Date(r.at).toISOString(), pc: r.pc, source: r.source, state: r.state })),
    };
  }

  #startMirror(mirror: NonNullable<OccupancyConfig['mirror']>): void {
    let roomMap: RoomMap | undefined;
    let tagMap: Record<string, string[]> | undefined;
    // The master's room map is the truth: the mirror places PCs as the master does.
    const relayout = (): void => {
      if (!roomMap) return;
      const rooms: Record<string, { name: string; pcs: string[] }> = {};
      const aliases: Record<string, string> = {};
      for (const [id, [name, pcs]] of Object.entries(roomMap)) {
        rooms[id] = { name, pcs: [] };
        for (const pc of pcs) aliases[pc] = id;
      }
      if (Object.keys(rooms).length === 0) return;
      const tags: Record<string, string[]> = {};
      for (const [tag, ids] of Object.entries(tagMap ?? {})) tags[tag] = ids.filter((id) => id in rooms);
      try {
        this.service.reconfigure(RoomLayout.compile({ rooms, aliases, tags }));
      } catch (error) {
        this.log.warn({ err: error }, "cannot use the master's room map");
      }
    };
    const apply = (occupation: Record<string, PcState>): void =>
      this.#applyOwn(
        Object.entries(occupation).map(([pc, state]) => ({ pc, state, source: 'mirror' })),
        'what the master sent',
      );
    this.#mirror = new OccupancyMirror({
      url: mirror.url,
      token: mirror.token,
      requestTimeoutMs: mirror['request-timeout'] * 1000,
      log: this.log,
      onRoomMap: (map) => {
        roomMap = map;
        relayout();
      },
      onTagMap: (map) => {
        tagMap = map;
        relayout();
      },
      onSchedule: (schedule) => {
        for (const [room, reservations] of Object.entries(schedule)) {
          if (this.service.state.layout.rooms.has(room)) this.service.setSchedule(room, reservations);
        }
      },
      onOccupation: apply,
      onUpdate: apply,
      onError: (error, retryInMs) => this.log.warn({ err: error, retryInMs }, 'cannot reach the master'),
    });
    this.#mirror.start();
  }

  #startSimulation(everySeconds: number, pcs: readonly string[]): void {
    const states: PcState[] = ['wf', 'wf', 'lf', 'wu', 'wu', 'lu', 'o', 'wx'];
    let n = 0;
    const tick = (): void => {
      // A few PCs per tick, as people come and go.
      const updates: PcUpdate[] = [];
      for (let i = 0; i < 3; i++) {
        const pc = pcs[Math.floor(Math.random() * pcs.length)] as string;
        updates.push({
          pc: pc.toLowerCase(),
          state: states[(n + Math.floor(Math.random() * states.length)) % states.length] as PcState,
          source: 'simulation',
        });
      }
      n++;
      this.#applyOwn(updates, 'the simulated lab');
    };
    // Every PC starts in a state, so the board is full from the first look.
    this.#applyOwn(
      pcs.map((pc, i) => ({ pc: pc.toLowerCase(), state: states[i % states.length] as PcState, source: 'simulation' })),
      'the simulated lab',
    );
    this.#simulation = setInterval(tick, everySeconds * 1000);
    this.#simulation.unref();
  }
}

function csv(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
