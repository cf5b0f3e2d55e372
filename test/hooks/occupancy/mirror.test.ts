// The mirror follows a master over Joyce: full state, updates in order, and recovery when the master restarts or hangs.
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { JoyceServer } from '../../../src/hooks/occupancy/joyce/server.js';
import { OccupancyMirror, type OccupancyMirrorOptions } from '../../../src/hooks/occupancy/mirror.js';
import {
  type ClientLink,
  type OccupancyEndpoint,
  type PcState,
  type Reservation,
  type RoomMap,
  Serialized,
  type ServerMessage,
  type Session,
} from '../../../src/hooks/occupancy/protocol.js';
import { until } from '../../helpers/wait.js';

/** A small master: tkbd's state and filters (null: everything; the default [] nothing), enough to mirror. */
class FakeMaster implements OccupancyEndpoint {
  seq = 0;
  readonly sessions: MasterSession[] = [];
  occupation: Record<string, PcState> = { hg1pc1: 'wf', hg1pc2: 'lu' };
  roomMap: RoomMap = { 'HG00.001': ['HG00.001', ['hg1pc1', 'hg1pc2']] };
  schedule: Record<string, Reservation[]> = { 'HG00.001': [[[9, 0], [10, 30], 'Lecture']] };
  tagMap: Record<string, string[]> = { hg: ['HG00.001'] };
  versions = { occupation: 5, roomMap: 2, schedule: 1, tagMap: 1 };

  openSession(link: ClientLink): Session {
    const s = new MasterSession(this, link);
    this.sessions.push(s);
    s.send({ type: 'welcome', protocols: [1] }, { type: 'tags', version: this.versions.tagMap, tags: Object.keys(this.tagMap) });
    return s;
  }

  /** A push: the room map first when PCs are new, then the update, to sessions that follow occupation. */
  push(update: Record<string, PcState>, room = 'HG00.001'): void {
    const pcs = this.roomMap[room]?.[1] ?? [];
    const added = Object.keys(update).filter((pc) => !pcs.includes(pc));
    const messages: Serialized[] = [];
    if (added.length > 0) {
      this.roomMap[room] = [room, [...pcs, ...added]];
      messages.push(new Serialized({ type: 'roomMap', version: ++this.versions.roomMap, roomMap: this.roomMap }));
    }
    Object.assign(this.occupation, update);
    const u = new Serialized({ type: 'occupation_update', version: ++this.versions.occupation, update });
    this.seq++;
    for (const s of this.sessions) {
      if (s.closed || s.filter.occupation !== null) continue;
      s.link.deliver(s.filter.roomMap === null ? [...messages, u] : [u], this.seq);
    }
  }

  /** Sends one message to every open session, as it is. */
  raw(message: ServerMessage | Record<string, unknown>): void {
    const m = new Serialized(message as ServerMessage);
    for (const s of this.sessions) if (!s.closed) s.link.deliver([m], this.seq);
  }

  get handled(): unknown[] {
    return this.sessions.flatMap((s) => s.handled);
  }
}

class MasterSession implements Session {
  readonly handled: unknown[] = [];
  filter: { occupation: unknown; roomMap: unknown; schedule: unknown } = { occupation: [], roomMap: [], schedule: [] };
  closed = false;

  constructor(
    readonly master: FakeMaster,
    readonly link: ClientLink,
  ) {}

  send(...messages: ServerMessage[]): void {
    this.link.deliver(
      messages.map((m) => new Serialized(m)),
      this.master.seq,
    );
  }

  handle(message: unknown): void {
    this.handled.push(message);
    const m = message as Record<string, unknown>;
    const master = this.master;
    if (m.type === 'set_msgFilter') {
      for (const k of ['occupation', 'roomMap', 'schedule'] as const) if (k in m) this.filter[k] = m[k];
    } else if (m.type === 'get_occupation') {
      this.send({ type: 'occupation', version: master.versions.occupation, occupation: { ...master.occupation } });
    } else if (m.type === 'get_roomMap') {
      this.send({ type: 'roomMap', version: master.versions.roomMap, roomMap: master.roomMap });
    } else if (m.type === 'get_schedule') {
      this.send({ type: 'schedule', version: master.versions.schedule, schedule: master.schedule });
    } else if (m.type === 'get_tagMap') {
      this.send({ type: 'tagMap', version: master.versions.tagMap, tagMap: master.tagMap });
    } else {
      this.send({ type: 'error', message: 'unknown message', request: message });
    }
  }

  close(): void {
    this.closed = true;
  }
}

interface Running {
  app: FastifyInstance;
  master: FakeMaster;
  port: number;
}

/** While set, the master's web server answers 500 before Joyce sees the request: an outage that keeps the channels. */
let outage = false;

async function startMaster(port = 0, master = new FakeMaster()): Promise<Running> {
  const app = fastify({ forceCloseConnections: true });
  app.addHook('onRequest', async (_req, reply) => {
    if (outage) await reply.code(500).send('down');
  });
  new JoyceServer({ endpoint: master }).register(app, '/joyce');
  await app.listen({ host: '127.0.0.1', port });
  return { app, master, port: (app.server.address() as AddressInfo).port };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A mirror that records every callback as [name, version, payload]. */
function mirror(port: number, options: Partial<OccupancyMirrorOptions> = {}) {
  const events: [string, number?, unknown?][] = [];
  const errors: Error[] = [];
  const m = new OccupancyMirror({
    url: `http://127.0.0.1:${port}/joyce`,
    backoffFirstMs: 20,
    backoffMaxMs: 100,
    onOccupation: (o, v) => void events.push(['occupation', v, { ...o }]),
    onUpdate: (u, v) => void events.push(['update', v, { ...u }]),
    onRoomMap: (r, v) => void events.push(['roomMap', v, r]),
    onSchedule: (s, v) => void events.push(['schedule', v, s]),
    onTags: (t, v) => void events.push(['tags', v, t]),
    onTagMap: (t, v) => void events.push(['tagMap', v, t]),
    onReset: () => void events.push(['reset']),
    onError: (e) => void errors.push(e),
    ...options,
  });
  cleanup.push(() => m.stop());
  return { m, events, errors, names: () => events.map((e) => e[0]) };
}

const SUBSCRIPTION = [
  { type: 'set_msgFilter', occupation: null, roomMap: null, schedule: null },
  { type: 'get_tagMap' },
  { type: 'get_roomMap' },
  { type: 'get_schedule' },
  { type: 'get_occupation' },
];

describe('OccupancyMirror', () => {
  it('lifts every filter, takes the full state (rooms before PCs) and then the updates, in order', async () => {
    const r = await startMaster();
    cleanup.push(() => r.app.close());
    const { m, events, names } = mirror(r.port, { token: 'mirror-a' });
    m.start();
    await until(() => m.synced);
    expect(m.token).toBe('mirror-a');
    expect(r.master.handled).toEqual(SUBSCRIPTION);
    expect(names()).toEqual(['tags', 'tagMap', 'roomMap', 'schedule', 'occupation']);
    expect(events.find((e) => e[0] === 'schedule')).toEqual(['schedule', 1, { 'HG00.001': [[[9, 0], [10, 30], 'Lecture']] }]);
    expect(Object.fromEntries(m.occupation)).toEqual({ hg1pc1: 'wf', hg1pc2: 'lu' });
    expect(m.versions).toMatchObject({ occupation: 5, roomMap: 2, schedule: 1, tagMap: 1, tags: 1 });

    r.master.push({ hg1pc1: 'wu' });
    r.master.push({ hg1pc3: 'lf' });
    r.master.push({ hg1pc2: 'o' });
    await until(() => m.versions.occupation === 8);
    expect(events.slice(5)).toEqual([
      ['update', 6, { hg1pc1: 'wu' }],
      ['roomMap', 3, { 'HG00.001': ['HG00.001', ['hg1pc1', 'hg1pc2', 'hg1pc3']] }],
      ['update', 7, { hg1pc3: 'lf' }],
      ['update', 8, { hg1pc2: 'o' }],
    ]);
    expect(Object.fromEntries(m.occupation)).toEqual(r.master.occupation);
  });

  it('recovers when the master is stopped and restarted on the same port: reset, filter again, full state again', async () => {
    const first = await startMaster();
    const { m, names, errors } = mirror(first.port);
    m.start();
    await until(() => m.synced);
    await first.app.close();
    // Down for a while: the mirror keeps retrying.
    await until(() => errors.length >= 2);
    const restarted = new FakeMaster();
    restarted.occupation = { hg1pc1: 'lx', hg1pc2: 'wf', hg1pc9: 'x' };
    restarted.versions.occupation = 1;
    const second = await startMaster(first.port, restarted);
    cleanup.push(() => second.app.close());
    await until(() => m.synced && m.versions.occupation === 1);
    expect(names().filter((n) => n === 'reset')).toHaveLength(1);
    expect(Object.fromEntries(m.occupation)).toEqual(restarted.occupation);
    // The new channel has the mirror's filter again, before any request (the subscription may come twice: once
    // queued after the failures, once after the welcome): updates flow.
    expect(restarted.handled.slice(0, 5)).toEqual(SUBSCRIPTION);
    expect(restarted.handled.slice(-5)).toEqual(SUBSCRIPTION);
    restarted.push({ hg1pc9: 'wu' });
    await until(() => m.occupation.get('hg1pc9') === 'wu');
    expect(m.versions.occupation).toBe(2);
  });

  it('recovers when the master forgets the channel without restarting', async () => {
    const r = await startMaster();
    cleanup.push(() => r.app.close());
    const { m, names } = mirror(r.port);
    m.start();
    await until(() => m.synced);
    // What a master sends a channel it does not know: a fresh welcome (and its tags).
    r.master.raw({ type: 'welcome', protocols: [1] });
    await until(() => names().includes('reset') && m.synced);
    expect(r.master.handled).toEqual([...SUBSCRIPTION, ...SUBSCRIPTION]);
  });

  it('asks for the full state again after a failed request, without a reset when the master kept the channel', async () => {
    const r = await startMaster();
    cleanup.push(() => r.app.close());
    const { m, errors, names } = mirror(r.port, { requestTimeoutMs: 1000 });
    m.start();
    await until(() => m.synced);
    outage = true;
    try {
      // The poll held now is answered by this push; the next one meets the outage.
      r.master.push({ hg1pc1: 'lu' });
      await until(() => errors.length >= 2);
      expect(m.synced).toBe(false);
    } finally {
      outage = false;
    }
    await until(() => m.synced);
    expect(names()).not.toContain('reset');
    expect(r.master.sessions).toHaveLength(1);
    expect(r.master.handled).toEqual([...SUBSCRIPTION, ...SUBSCRIPTION]);
    expect(m.occupation.get('hg1pc1')).toBe('lu');
  });

  it('times out a master that accepts but never answers, then syncs with the real one on that port', async () => {
    const sockets: Socket[] = [];
    const hung = createTcpServer((s) => void sockets.push(s));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const port = (hung.address() as AddressInfo).port;
    const { m, errors } = mirror(port, { requestTimeoutMs: 150 });
    m.start();
    await until(() => errors.length >= 2);
    expect(errors[0]?.message).toMatch(/no answer .* within 150 ms/);
    expect(m.synced).toBe(false);
    for (const s of sockets) s.destroy();
    await new Promise((r) => hung.close(r));
    const r = await startMaster(port);
    cleanup.push(() => r.app.close());
    await until(() => m.synced);
    expect(Object.fromEntries(m.occupation)).toEqual(r.master.occupation);
  });

  it('drops updates older than the full state, and asks again when updates skip a version', async () => {
    const r = await startMaster();
    cleanup.push(() => r.app.close());
    const { m, events } = mirror(r.port);
    m.start();
    await until(() => m.synced);
    const before = events.length;
    r.master.raw({ type: 'occupation_update', version: 5, update: { hg1pc1: 'o' } });
    r.master.raw({ type: 'occupation_update', version: 9, update: { hg1pc2: 'wx' } });
    await until(() => r.master.handled.length === SUBSCRIPTION.length + 1);
    expect(r.master.handled.at(-1)).toEqual({ type: 'get_occupation' });
    await until(() => events.length >= before + 2);
    expect(events.slice(before, before + 2)).toEqual([
      ['update', 9, { hg1pc2: 'wx' }],
      ['occupation', 5, { hg1pc1: 'wf', hg1pc2: 'lu' }],
    ]);
    expect(m.occupation.get('hg1pc1')).toBe('wf');
  });

  it('takes tkbd’s answer to get_tagMap (a tags message carrying the map) as the tag map', async () => {
    const r = await startMaster();
    cleanup.push(() => r.app.close());
    const { m, events } = mirror(r.port);
    m.start();
    await until(() => m.synced);
    r.master.raw({ type: 'tags', version: 4, tags: { hg: ['HG00.001'], lib: ['Bibliotheek'] } });
    r.master.raw({ type: 'tags', tags: ['hg', 'lib'] });
    await until(() => events.filter((e) => e[0] === 'tags').length === 2);
    expect(events.find((e) => e[0] === 'tagMap' && e[1] === 4)).toEqual(['tagMap', 4, { hg: ['HG00.001'], lib: ['Bibliotheek'] }]);
    expect(events.at(-1)).toEqual(['tags', 0, ['hg', 'lib']]);
  });

  it('skips malformed messages and unknown PC states, and keeps mirroring', async () => {
    const r = await startMaster();
    cleanup.push(() => r.app.close());
    const { m, events } = mirror(r.port);
    m.start();
    await until(() => m.synced);
    const before = events.length;
    r.master.raw({ type: 'occupation', occupation: { a: 'wf' } });
    r.master.raw({ type: 'roomMap', version: 3, roomMap: { x: 'not a room' } });
    r.master.raw({ type: 'schedule', version: 'two', schedule: {} });
    r.master.raw({ type: 'occupation_update', version: 6, update: { hg1pc1: 'zz', hg1pc2: 'wx' } });
    r.master.raw({ type: 'error', message: 'the master did not like something' });
    r.master.raw({ type: 'something_new', version: 1 });
    r.master.versions.occupation = 6;
    r.master.push({ hg1pc1: 'lu' });
    await until(() => m.versions.occupation === 7);
    expect(events.slice(before)).toEqual([
      ['update', 6, { hg1pc2: 'wx' }],
      ['update', 7, { hg1pc1: 'lu' }],
    ]);
    expect(m.versions.roomMap).toBe(2);
  });

  it('stops cleanly and starts again', async () => {
    const r = await startMaster();
    cleanup.push(() => r.app.close());
    const { m } = mirror(r.port);
    m.start();
    await until(() => m.synced);
    await m.stop();
    r.master.push({ hg1pc1: 'o' });
    await new Promise((res) => setTimeout(res, 100));
    expect(m.occupation.get('hg1pc1')).toBe('wf');
    m.start();
    await until(() => m.synced && m.occupation.get('hg1pc1') === 'o');
  });
});
