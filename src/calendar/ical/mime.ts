/** The text/calendar parts of an iMIP mail (RFC 6047). */
import { CalendarError, STATUS } from './errors.js';

export interface MimeLimits {
  readonly maxBytes?: number;
  readonly maxDepth?: number;
  readonly maxParts?: number;
}

export async function calendarParts(raw: Buffer | string, limits: MimeLimits = {}): Promise<{ method?: string; text: string }[]> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > (limits.maxBytes ?? 10 * 1024 * 1024)) throw new CalendarError(STATUS.tooLarge, `${size} bytes`);
  return [];
}
