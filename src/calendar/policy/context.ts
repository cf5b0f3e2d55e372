/**
 * What a policy sees while deciding: the resource, its bookings, and the request as the policies
 * before it left it (instances some earlier policy declined are no longer asked about).
 */
import type { BookingIndex, BookingRequest, Decision, Occurrence } from '../model.js';
import type { PolicyConfig } from './config.js';

export interface PoolMember {
  readonly address: string;
  readonly bookings: BookingIndex;
  readonly policies: readonly PolicyConfig[];
  readonly tzid: string;
  readonly name?: string;
}

export interface PolicyContext {
  readonly policies: readonly PolicyConfig[];
  readonly bookings: BookingIndex;
  readonly resource: { readonly address: string; readonly tzid: string; readonly name?: string };
  /** Group name -> member addresses, for quotas and who may book. */
  readonly groups?: ReadonlyMap<string, readonly string[]>;
  /** Set when the resource is a pool: `decide` delegates to the first member that accepts. */
  readonly pool?: { readonly members: readonly PoolMember[] };
}

/** One request being decided. */
export interface Run {
  readonly request: BookingRequest;
  readonly ctx: PolicyContext;
  /** The instances still being decided on. */
  occurrences: readonly Occurrence[];
  /** Bookings that may run at once, from the list's `capacity` or `free` (1). */
  readonly capacity: number;
  /** The resource's name in reasons. */
  readonly name: string;
}

/** A policy's verdict: pass to the next, decide, or decline some instances of a series and go on. */
export type Verdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'decide'; readonly decision: Decision }
  | { readonly kind: 'drop'; readonly occurrences: readonly Occurrence[]; readonly reason: string };

export const PASS: Verdict = { kind: 'pass' };

export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** The instance's RECURRENCE-ID, as declinedInstances names it (its start for a single event). */
export function instanceId(o: Occurrence): number {
  return o.recurrenceId ?? o.start;
}

/** A verdict deciding `outcome` for `policy` with `reason`. */
export function decided(outcome: Decision['outcome'], policy: string, reason: string, more?: Partial<Decision>): Verdict {
  return { kind: 'decide', decision: { outcome, policy, reason, ...more } };
}
