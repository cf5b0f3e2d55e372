/**
 * Deciding a booking request: the resource's policies in order, the first that does not pass
 * decides; a pool delegates to its first member that accepts.
 */
import type { BookingRequest, Decision, Occurrence } from '../model.js';
import { approval, who } from './access.js';
import type { PolicyConfig } from './config.js';
import { instanceId, type PolicyContext, type Run, type Verdict } from './context.js';
import { conflicts, counter, duration, hours, noRecurring, recurring, window } from './policies.js';
import { quota } from './quota.js';

function verdict(cfg: PolicyConfig, run: Run): Verdict {
  switch (cfg.type) {
    case 'free':
    case 'capacity':
      return conflicts(cfg.type, run);
    case 'recurring':
      return recurring(cfg, run);
    case 'no-recurring':
      return noRecurring(run);
    case 'window':
      return window(cfg, run);
    case 'duration':
      return duration(cfg, run);
    case 'hours':
      return hours(cfg, run);
    case 'counter':
      return counter(cfg, run);
    case 'who':
      return who(cfg, run);
    case 'approval':
      return approval(cfg, run);
    case 'quota':
      return quota(cfg, run);
  }
}

/** Bookings that may run at once: the first `capacity` or `free` entry's, else 1. */
export function capacityOf(policies: readonly PolicyConfig[]): number {
  for (const p of policies) {
    if (p.type === 'capacity') return p.max;
    if (p.type === 'free') return p.capacity;
  }
  return 1;
}

/**
 * Decides `request` for the resource in `ctx`: synchronous and pure. ACCEPTED when every policy
 * passes; instances of a series that some policy declined are listed in `declinedInstances`.
 */
export function decide(request: BookingRequest, ctx: PolicyContext): Decision {
  if (ctx.pool && ctx.pool.members.length > 0) return decidePool(request, ctx);
  return decideResource(request, ctx);
}

function decideResource(request: BookingRequest, ctx: PolicyContext): Decision {
  const run: Run = {
    request,
    ctx,
    occurrences: request.occurrences,
    capacity: capacityOf(ctx.policies),
    name: ctx.resource.name ?? ctx.resource.address,
  };
  const declined: number[] = [];
  const notes: string[] = [];
  let dropper: string | undefined;
  if (request.occurrences.length === 0) {
    return { outcome: 'DECLINED', policy: 'request', reason: `The booking has no dates in the time ${run.name} keeps bookings for.` };
  }
  for (const cfg of ctx.policies) {
    const v = verdict(cfg, run);
    if (v.kind === 'pass') continue;
    if (v.kind === 'decide') {
      if (declined.length === 0 || (v.decision.outcome !== 'ACCEPTED' && v.decision.outcome !== 'TENTATIVE')) return v.decision;
      return { ...v.decision, declinedInstances: declined, reason: `${v.decision.reason} ${except(notes)}` };
    }
    const gone = new Set<Occurrence>(v.occurrences);
    run.occurrences = run.occurrences.filter((o) => !gone.has(o));
    for (const o of v.occurrences) declined.push(instanceId(o));
    notes.push(v.reason);
    dropper = cfg.type;
    if (run.occurrences.length === 0) return { outcome: 'DECLINED', policy: cfg.type, reason: `${notes.join('; ')}.` };
  }
  if (declined.length === 0) return { outcome: 'ACCEPTED', policy: 'default', reason: `${run.name} is booked.` };
  return {
    outcome: 'ACCEPTED',
    policy: dropper ?? 'default',
    reason: `${run.name} is booked, except ${declined.length === 1 ? 'one date' : `${declined.length} dates`}: ${notes.join('; ')}.`,
    declinedInstances: declined.sort((a, b) => a - b),
  };
}

function except(notes: readonly string[]): string {
  return `Some dates are declined: ${notes.join('; ')}.`;
}

const RANK: Partial<Record<Decision['outcome'], number>> = { ACCEPTED: 0, TENTATIVE: 1 };

/** A pool: the first member that takes the whole booking (else the one that takes most), else the pool's own decision. */
function decidePool(request: BookingRequest, ctx: PolicyContext): Decision {
  const members = ctx.pool?.members ?? [];
  const refusals: string[] = [];
  let best: { decision: Decision; address: string; score: number } | undefined;
  for (const m of members) {
    const d = decideResource(request, {
      policies: m.policies,
      bookings: m.bookings,
      resource: { address: m.address, tzid: m.tzid, name: m.name },
      groups: ctx.groups,
    });
    const rank = RANK[d.outcome];
    if (rank === undefined) {
      refusals.push(`${m.name ?? m.address}: ${d.reason}`);
      continue;
    }
    // Fewer declined dates first, then accepted before tentative; the list's order breaks ties.
    const score = (d.declinedInstances?.length ?? 0) * 2 + rank;
    if (!best || score < best.score) best = { decision: d, address: m.address, score };
    if (score === 0) break;
  }
  const name = ctx.resource.name ?? ctx.resource.address;
  if (best) {
    const { decision, address } = best;
    return {
      outcome: 'DELEGATED',
      policy: 'pool',
      reason: `${name} passes the booking to ${address}: ${decision.reason}`,
      delegateTo: address,
      ...(decision.declinedInstances ? { declinedInstances: decision.declinedInstances } : {}),
    };
  }
  const own = decideResource(request, { ...ctx, pool: undefined });
  if (own.outcome === 'DECLINED' || own.outcome === 'COUNTER') return own;
  return { outcome: 'DECLINED', policy: 'pool', reason: `None of ${name}'s resources can take the booking. ${refusals.join(' ')}`.trim() };
}
