/**
 * Time zones for ical.js: a TZID the calendar does not define is looked up among the IANA zones
 * of timezones-ical-library and registered with ical.js's TimezoneService the first time it is met.
 */
import ICAL from 'ical.js';
import { tzlib_get_ical_block } from 'timezones-ical-library';

const vtimezoneText = new Map<string, string | undefined>();

/** The IANA VTIMEZONE text for `tzid`, or undefined when no IANA zone has that name. */
export function ianaVtimezone(tzid: string): string | undefined {
  if (vtimezoneText.has(tzid)) return vtimezoneText.get(tzid);
  let text: string | undefined;
  if (tzid !== '' && tzid.length < 64) {
    const block = tzlib_get_ical_block(tzid);
    if (Array.isArray(block) && typeof block[0] === 'string' && block[0].startsWith('BEGIN:VTIMEZONE')) text = block[0];
  }
  vtimezoneText.set(tzid, text);
  return text;
}

/** Makes sure ical.js knows the IANA zone `tzid` (UTC always); false when there is no such zone. */
export function ensureZone(tzid: string): boolean {
  if (tzid === 'UTC' || tzid === 'Etc/UTC' || ICAL.TimezoneService.has(tzid)) return true;
  const text = ianaVtimezone(tzid);
  if (text === undefined) return false;
  const component = new ICAL.Component(ICAL.parse(text) as unknown as unknown[]);
  ICAL.TimezoneService.register(new ICAL.Timezone(component), tzid);
  return true;
}
