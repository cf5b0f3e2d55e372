// Scheduling mail made and read by Python: invitations built with Debian's `icalendar`, mailed by
// `smtplib` over SMTP or LMTP (time zones by pytz, so TZID is the IANA name); porter's replies
// parsed back by `icalendar`.
import { python } from '../../peers/python-calendar.js';

export interface Invitation {
  readonly method?: string;
  readonly uid: string;
  readonly organizer: string;
  readonly attendees: readonly string[];
  readonly summary: string;
  /** Local wall time `YYYY-MM-DDTHH:MM` in `tz`. */
  readonly start: string;
  readonly minutes: number;
  readonly tz?: string;
  readonly rrule?: Record<string, unknown>;
  readonly sequence?: number;
  /** `RECURRENCE-ID` (local wall time) for an instance (a CANCEL of one date). */
  readonly recurrenceId?: string;
  /** Partstat per attendee (for a REPLY). */
  readonly partstat?: string;
}

const MAKE = `
import json, sys, datetime, pytz, icalendar
o = json.loads(sys.argv[1])
tz = pytz.timezone(o.get('tz') or 'UTC')
cal = icalendar.Calendar()
cal.add('prodid', '-//python icalendar test//EN')
cal.add('version', '2.0')
cal.add('method', o.get('method') or 'REQUEST')
ev = icalendar.Event()
ev.add('uid', o['uid'])
ev.add('dtstamp', datetime.datetime.now(datetime.timezone.utc))
start = tz.localize(datetime.datetime.fromisoformat(o['start']))
ev.add('dtstart', start)
ev.add('dtend', tz.normalize(start + datetime.timedelta(minutes=o['minutes'])))
ev.add('summary', o['summary'])
ev.add('sequence', o.get('sequence') or 0)
org = icalendar.vCalAddress('mailto:' + o['organizer'])
ev.add('organizer', org)
for a in o['attendees']:
    at = icalendar.vCalAddress('mailto:' + a)
    at.params['PARTSTAT'] = icalendar.vText(o.get('partstat') or 'NEEDS-ACTION')
    at.params['RSVP'] = icalendar.vText('TRUE')
    ev.add('attendee', at, encode=0)
if o.get('rrule'):
    ev.add('rrule', o['rrule'])
if o.get('recurrenceId'):
    ev.add('recurrence-id', tz.localize(datetime.datetime.fromisoformat(o['recurrenceId'])))
cal.add_component(ev)
sys.stdout.write(cal.to_ical().decode())
`;

/** The VCALENDAR text Python's icalendar makes for `inv` (an IANA TZID, as Python writes it). */
export function makeCalendar(inv: Invitation): Promise<string> {
  return python(MAKE, '', [JSON.stringify(inv)]);
}

const SEND = `
import json, sys, smtplib
from email.message import EmailMessage
o = json.loads(sys.argv[1])
cal = sys.stdin.read()
m = EmailMessage()
m['From'] = o['from']
m['To'] = ', '.join(o['to'])
m['Subject'] = o.get('subject') or 'Invitation'
m.set_content('You are invited.')
method = o.get('partMethod')
params = {'method': method} if method else {}
m.add_alternative(cal, subtype='calendar', params=params)
if o.get('attach'):
    m.add_attachment(cal.encode(), maintype='text', subtype='calendar', filename='invite.ics')
cls = smtplib.LMTP if o.get('lmtp') else smtplib.SMTP
s = cls('127.0.0.1', o['port'], timeout=20)
if o.get('lmtp'):
    s.ehlo('client.test')
refused = s.send_message(m)
s.quit()
print(json.dumps({'refused': list(refused)}))
`;

/** Mails `calendar` (as a multipart/alternative text/calendar part) with Python's smtplib, over SMTP or LMTP. */
export async function mailCalendar(o: {
  port: number;
  lmtp?: boolean;
  from: string;
  to: readonly string[];
  calendar: string;
  subject?: string;
  /** The part's `method=` parameter (default: the calendar's METHOD). */
  partMethod?: string | null;
  attach?: boolean;
}): Promise<void> {
  const partMethod = o.partMethod === undefined ? /^METHOD:(\S+)/m.exec(o.calendar)?.[1] : (o.partMethod ?? undefined);
  const out = await python(SEND, o.calendar, [JSON.stringify({ ...o, calendar: undefined, partMethod })]);
  const refused = (JSON.parse(out) as { refused: string[] }).refused;
  if (refused.length > 0) throw new Error(`refused: ${refused.join(', ')}`);
}

export interface ParsedReply {
  readonly method: string;
  readonly uid: string | null;
  readonly sequence: number | null;
  readonly attendees: { address: string; partstat: string | null; delegatedTo?: string | null }[];
  readonly comment: string | null;
  readonly requestStatus: string | null;
  readonly dtstart: string | null;
  readonly dtend: string | null;
  /** RECURRENCE-IDs (UTC ISO) of the overrides, with their attendees' PARTSTAT. */
  readonly overrides: { recurrenceId: string; partstat: string | null }[];
  readonly freebusy: string[];
  readonly subject: string;
  readonly from: string;
}

const READ = `
import json, sys, email, email.policy, icalendar, datetime
msg = email.message_from_string(sys.stdin.read(), policy=email.policy.default)
part = next(p for p in msg.walk() if p.get_content_type() == 'text/calendar')
cal = icalendar.Calendar.from_ical(part.get_content())
def utc(v):
    if v is None: return None
    d = v.dt
    if isinstance(d, datetime.datetime):
        if d.tzinfo is None: d = d.replace(tzinfo=datetime.timezone.utc)
        return d.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    return d.isoformat()
def addr(v): return str(v).lower().replace('mailto:', '')
def attendees(c):
    a = c.get('attendee')
    if a is None: return []
    if not isinstance(a, list): a = [a]
    return [{'address': addr(x), 'partstat': x.params.get('PARTSTAT'), 'delegatedTo': x.params.get('DELEGATED-TO')} for x in a]
comps = [c for c in cal.walk() if c.name in ('VEVENT', 'VFREEBUSY')]
master = next((c for c in comps if c.get('recurrence-id') is None), comps[0])
out = {
  'method': str(cal.get('method')),
  'uid': str(master.get('uid')) if master.get('uid') is not None else None,
  'sequence': int(master.get('sequence')) if master.get('sequence') is not None else None,
  'attendees': attendees(master),
  'comment': str(master.get('comment')) if master.get('comment') is not None else None,
  'requestStatus': str(master.get('request-status')) if master.get('request-status') is not None else None,
  'dtstart': utc(master.get('dtstart')),
  'dtend': utc(master.get('dtend')),
  'overrides': [{'recurrenceId': utc(c.get('recurrence-id')), 'partstat': (attendees(c) or [{}])[0].get('partstat')} for c in comps if c.get('recurrence-id') is not None],
  'freebusy': [p.to_ical().decode() if hasattr(p, 'to_ical') else str(p) for c in comps if c.name == 'VFREEBUSY' for p in (c.get('freebusy') if isinstance(c.get('freebusy'), list) else ([c.get('freebusy')] if c.get('freebusy') is not None else []))],
  'subject': str(msg['Subject']),
  'from': str(msg['From']),
}
print(json.dumps(out))
`;

/** The iTIP message in a mail, as Python's icalendar reads it. */
export async function readReply(mail: string): Promise<ParsedReply> {
  return JSON.parse(await python(READ, mail)) as ParsedReply;
}
