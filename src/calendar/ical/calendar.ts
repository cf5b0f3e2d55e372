/**
 * Reading iCalendar text into ical.js components, checked: component nesting, date syntax, time
 * zones (a TZID must be defined in the calendar or be an IANA zone), recurrence rules. Every fault
 * becomes a CalendarError with the REQUEST-STATUS that names it.
 */
import ICAL from 'ical.js';
import { CalendarError, STATUS } from './errors.js';
import { ensureZone } from './zones.js';

type JCalProperty = [string, Record<string, unknown>, string, ...unknown[]];
type JCalComponent = [string, JCalProperty[], JCalComponent[]];

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z)?$/;

/** Parses `text` into its VCALENDAR component, or throws CalendarError. */
export function readCalendar(text: string): ICAL.Component {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/component/i.test(message)) throw new CalendarError(STATUS.invalidSequence, message);
    if (/frequency|recur|rule/i.test(message)) throw new CalendarError(STATUS.invalidRule, message);
    throw new CalendarError(STATUS.invalidValue, message);
  }
  // Several top-level components come back as a list; a VCALENDAR must be the one.
  const candidates = (Array.isArray(jcal) && Array.isArray(jcal[0]) ? jcal : [jcal]) as JCalComponent[];
  const root = candidates.find((c) => Array.isArray(c) && c[0] === 'vcalendar');
  if (!root) throw new CalendarError(STATUS.invalidSequence, 'no VCALENDAR component');
  const defined = new Set<string>();
  for (const sub of root[2]) {
    if (sub[0] !== 'vtimezone') continue;
    const tzid = sub[1].find((p) => p[0] === 'tzid')?.[3];
    if (typeof tzid === 'string') defined.add(tzid);
  }
  check(root, defined);
  return new SharedZoneCalendar(root as unknown as unknown[]);
}

/** Time zones by their definition, shared by every calendar that carries the same VTIMEZONE. */
const sharedZones = new Map<string, ICAL.Timezone>();
const SHARED_ZONES = 1024;

/**
 * A VCALENDAR whose VTIMEZONEs resolve to one shared ical.js Timezone per definition: ical.js
 * would otherwise build (and expand from 1970 on) a Timezone for every stored object.
 */
export class SharedZoneCalendar extends ICAL.Component {
  readonly #zones = new Map<string, ICAL.Timezone | null>();

  override getTimeZoneByID(tzid: string): ICAL.Timezone {
    if (this.parent) return this.parent.getTimeZoneByID(tzid);
    const known = this.#zones.get(tzid);
    // ical.js's own signature says Timezone, but it answers null for a TZID the calendar does not define.
    if (known !== undefined) return known as ICAL.Timezone;
    const component = this.getAllSubcomponents('vtimezone').find((z) => z.getFirstPropertyValue('tzid') === tzid);
    let zone: ICAL.Timezone | null = null;
    if (component) {
      const key = component.toString().replace(/^LAST-MODIFIED:.*$/m, '');
      zone = sharedZones.get(key) ?? null;
      if (!zone) {
        zone = new ICAL.Timezone({ component: new ICAL.Component(ICAL.helpers.clone(component.toJSON(), true) as unknown[]), tzid });
        if (sharedZones.size >= SHARED_ZONES) sharedZones.delete(sharedZones.keys().next().value as string);
        sharedZones.set(key, zone);
      }
    }
    this.#zones.set(tzid, zone);
    return zone as ICAL.Timezone;
  }
}

function check(component: JCalComponent, zones: ReadonlySet<string>): void {
  const inZone = component[0] === 'standard' || component[0] === 'daylight';
  for (const property of component[1]) {
    const [name, params, type, ...values] = property;
    const tzid = params.tzid;
    if (typeof tzid === 'string' && !zones.has(tzid) && !ensureZone(tzid)) {
      throw new CalendarError(STATUS.invalidParameterValue, `unknown time zone ${JSON.stringify(tzid)} in ${name.toUpperCase()}`);
    }
    if (inZone) continue;
    for (const value of values) {
      if (type === 'date' || type === 'date-time') checkTime(name, value);
      else if (type === 'period' && Array.isArray(value)) {
        checkTime(name, value[0]);
        if (typeof value[1] === 'string' && !value[1].startsWith('P') && !value[1].startsWith('-P')) checkTime(name, value[1]);
      }
    }
  }
  for (const sub of component[2]) check(sub, zones);
}

function checkTime(name: string, value: unknown): void {
  const text = typeof value === 'string' ? value : '';
  const m = DATE_TIME.exec(text) ?? DATE.exec(text);
  const bad = () => new CalendarError(STATUS.invalidDate, `${name.toUpperCase()} ${JSON.stringify(value)}`);
  if (!m) throw bad();
  const [, y, mo, d, h = '0', mi = '0', s = '0'] = m;
  const month = Number(mo);
  const day = Number(d);
  const days = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > days || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) throw bad();
}
