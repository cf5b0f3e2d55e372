/**
 * The web chat's wire protocol: the JSON frames a client may send (validated with zod) and the
 * frames porter pushes. README.md beside this file documents both.
 */
import { z } from 'zod';

const roomName = z.string().min(1).max(64);
const nick = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\s/][^/]*$/, 'a nick may not contain "/" nor start with a space');
/** Optional on every client frame: echoed as `ref` in the answer or error, to match them up. */
const ref = z.string().max(64).optional();
/** Optional on every frame after hello: the sender's own address; any other is a forgery. */
const session = z.string().max(200).optional();

export const clientFrameSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    id: ref,
    nick: nick.optional(),
    /** The token of an earlier session, to take it over again (after a dropped socket). */
    resume: z.string().min(1).max(200).optional(),
    /** Staff only: their user name and password from the config. */
    username: z.string().min(1).max(64).optional(),
    password: z.string().min(1).max(200).optional(),
  }),
  z.strictObject({
    type: z.literal('join'),
    id: ref,
    session,
    room: roomName,
    password: z.string().max(200).default(''),
    nick: nick.optional(),
  }),
  z.strictObject({ type: z.literal('leave'), id: ref, session, room: roomName }),
  z.strictObject({ type: z.literal('say'), id: ref, session, room: roomName.optional(), text: z.string().min(1).max(8000) }),
  z.strictObject({ type: z.literal('typing'), id: ref, session, room: roomName, active: z.boolean() }),
  z.strictObject({ type: z.literal('bye'), id: ref, session }),
]);

export type ClientFrame = z.output<typeof clientFrameSchema>;

/** Why a frame or a join was refused; the `code` of an error frame. */
export type ErrorCode =
  | 'bad-frame'
  | 'not-authorized'
  | 'forbidden'
  | 'forged'
  | 'full'
  | 'gone'
  | 'kicked'
  | 'not-found'
  | 'not-in-room'
  | 'conflict'
  | 'rate-limited'
  | 'resume-failed'
  | 'too-many'
  | 'hello-first';

/** Someone in a room as a client sees them; `address` only when the viewer is staff. */
export interface OccupantView {
  readonly nick: string;
  readonly role: 'owner' | 'staff' | 'client';
  readonly address?: string;
}

export interface ChatLine {
  readonly id: string;
  readonly room?: string;
  readonly from: string;
  readonly text: string;
  readonly at: string;
}

export type ServerFrame =
  | { type: 'welcome'; ref?: string; address: string; token: string; nick: string; staff: boolean; resumed: boolean; rooms: string[] }
  | { type: 'joined'; ref?: string; room: string; nick: string; occupants: OccupantView[]; history: ChatLine[] }
  | { type: 'left'; ref?: string; room: string }
  | { type: 'occupants'; room: string; occupants: OccupantView[] }
  | { type: 'presence'; room: string; nick: string; event: 'joined' | 'left'; clean?: boolean; kicked?: boolean }
  | ({ type: 'message'; ref?: string; private?: boolean } & ChatLine)
  | { type: 'typing'; room: string; nick: string; active: boolean }
  | { type: 'invite'; room: string; password: string; reason?: string }
  | { type: 'kicked'; room: string; reason?: string }
  | { type: 'destroyed'; room: string; reason?: string }
  | { type: 'error'; ref?: string; code: ErrorCode; message: string }
  | { type: 'bye'; ref?: string };

/** Parses one text frame; on failure, a message naming the field and what was wrong with it. */
export function parseFrame(text: string): { ok: true; frame: ClientFrame } | { ok: false; error: string; ref?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const parsed = clientFrameSchema.safeParse(value);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'frame';
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  return { ok: false, error: `${where}: ${issue?.message ?? 'invalid'}`, ...(typeof id === 'string' ? { ref: id.slice(0, 64) } : {}) };
}
