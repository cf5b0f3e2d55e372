/** The webchat plug's config schema: the WebSocket path, porter's nick, staff accounts, fixed rooms and limits. */
import { z } from 'zod';

/** A room name: also the channel source, so it never contains `/` (session addresses do). */
export const ROOM_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const staffSchema = z.strictObject({
  /** The staff member's user name; their address is `staff/<username>`. */
  username: z.string().regex(USERNAME, 'expected lower-case letters, digits, ".", "_" or "-"'),
  /** Their password, given in the hello frame. */
  password: z.string().min(8, 'a staff password needs at least 8 characters'),
  /** The name shown in rooms; default: the user name. */
  name: z.string().min(1).optional(),
});

const roomSchema = z.strictObject({
  name: z.string().regex(ROOM_NAME, 'expected lower-case letters, digits, ".", "_" or "-", at most 64'),
  password: z.string().default(''),
  maxOccupants: z.number().int().min(0).optional(),
  historyLength: z.number().int().min(0).default(20),
});

export const webChatConfigSchema = z
  .strictObject({
    /** The WebSocket endpoint's path on porter's web server. */
    path: z
      .string()
      .regex(/^\/[^?#\s]*$/, 'expected an absolute path such as /chat/ws')
      .default('/chat/ws'),
    /** Porter's name in rooms (the author of what porter sends). */
    nick: z.string().min(1).max(64).default('porter'),
    /** Staff accounts; everyone else is an anonymous client. */
    staff: z.array(staffSchema).default([]),
    /** Rooms that exist from start, e.g. to bridge with the sync hook; they survive porter's restarts. */
    rooms: z.array(roomSchema).default([]),
    /** Seconds a session whose socket dropped stays in its rooms, waiting for the client to resume it. */
    grace: z.number().min(0).default(30),
    /** Largest frame a client may send, in bytes; a larger one closes the socket (code 1009). */
    'max-frame': z.number().int().min(256).default(16_384),
    /** Frames per second a session may send (bursts of twice as many); more are refused with an error frame. */
    rate: z.number().positive().default(5),
    /** Open connections, and live sessions, from one IP address; more are refused (HTTP 503, or a too-many error). */
    'sessions-per-ip': z.number().int().min(1).default(20),
    /** Take the client's address from the last entry of X-Forwarded-For (set by a reverse proxy porter sits behind). */
    'trust-proxy': z.boolean().default(false),
    /** Seconds between pings; a socket that missed the previous pong counts as dropped. */
    ping: z.number().positive().default(20),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.staff.forEach((s, i) => {
      if (seen.has(s.username))
        ctx.addIssue({ code: 'custom', path: ['staff', i, 'username'], message: `staff user ${s.username} is listed twice` });
      seen.add(s.username);
    });
    const rooms = new Set<string>();
    cfg.rooms.forEach((r, i) => {
      if (rooms.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rooms', i, 'name'], message: `room ${r.name} is listed twice` });
      rooms.add(r.name);
    });
  });

export type WebChatConfig = z.output<typeof webChatConfigSchema>;
