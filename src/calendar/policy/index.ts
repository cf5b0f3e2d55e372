/**
 * A resource's booking policies: the `policies:` config, the in-memory booking index, the
 * decision on a booking request (and on a pool), and the next free slot for counter-proposals.
 */
export { MemoryBookingIndex } from './booking-index.js';
export {
  describeProblems,
  POLICY_TYPES,
  type PolicyConfig,
  type PolicyOf,
  type PolicyType,
  type PoolConfig,
  parsePolicies,
  policiesSchema,
  policySchema,
  poolSchema,
} from './config.js';
export type { PolicyContext, PoolMember } from './context.js';
export { capacityOf, decide } from './decide.js';
export { type FreeSlotOptions, hasRoom, nextFreeSlot, peakOverlap } from './free-slot.js';
export { describeTimes, parseTimes, type WeekTimes, withinTimes } from './hours.js';
export { calendarPeriod } from './quota.js';
export { describePeriod, fromWall, isTimeZone, wallClock } from './zone.js';
