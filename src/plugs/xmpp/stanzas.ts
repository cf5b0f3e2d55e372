/** The XMPP stanzas the plug builds and reads for multi-user chat (XEP-0045) and data forms (XEP-0004). */
import { xml } from '@xmpp/client';

export type Element = ReturnType<typeof xml>;

export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const NS_DATA = 'jabber:x:data';
export const NS_DELAY = 'urn:xmpp:delay';
export const NS_STANZA_ID = 'urn:xmpp:sid:0';
const ROOMCONFIG = 'http://jabber.org/protocol/muc#roomconfig';

/** A join (or create) request for `room` under `nick`, with no history replayed. */
export function joinPresence(room: string, nick: string, password: string | undefined, status: string): Element {
  const x = xml('x', { xmlns: NS_MUC }, xml('history', { maxstanzas: '0' }));
  if (password) x.append(xml('password', {}, password));
  const presence = xml('presence', { to: `${room}/${nick}` }, x);
  if (status) presence.append(xml('status', {}, status));
  return presence;
}

export function leavePresence(room: string, nick: string, status: string): Element {
  return xml('presence', { to: `${room}/${nick}`, type: 'unavailable' }, xml('status', {}, status));
}

/** The MUC status codes in a presence's muc#user element (110 self, 201 created, 307 kicked…). */
export function statusCodes(stanza: Element): Set<string> {
  const x = stanza.getChild('x', NS_MUC_USER);
  return new Set((x?.getChildren('status') ?? []).map((s) => String(s.attrs.code)));
}

/** The item (affiliation, role, real JID) of a presence's muc#user element. */
export function mucItem(stanza: Element): { jid?: string; role?: string; affiliation?: string; nick?: string } | undefined {
  const item = stanza.getChild('x', NS_MUC_USER)?.getChild('item');
  if (!item) return undefined;
  const attr = (name: string): string | undefined => (typeof item.attrs[name] === 'string' ? (item.attrs[name] as string) : undefined);
  return { jid: attr('jid'), role: attr('role'), affiliation: attr('affiliation'), nick: attr('nick') };
}

/** The defined condition of an error stanza ("not-authorized", "forbidden"…), or "unknown". */
export function errorCondition(stanza: Element): string {
  const error = stanza.getChild('error');
  const condition = error?.children.find(
    (c): c is Element => typeof c !== 'string' && c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text',
  );
  return condition?.name ?? 'unknown';
}

/** Values for a room configuration form; a field the server's form lacks is left out. */
export type FormValues = Record<string, string | boolean | number>;

/** The var names of a form's fields, to submit only those the server offers. */
export function formFields(query: Element | undefined): Set<string> {
  const x = query?.getChild('x', NS_DATA);
  return new Set((x?.getChildren('field') ?? []).map((f) => String(f.attrs.var)));
}

/** A submitted room configuration form with the values whose fields the server offers. */
export function configSubmit(room: string, offered: ReadonlySet<string>, values: FormValues): Element {
  const x = xml('x', { xmlns: NS_DATA, type: 'submit' }, field('FORM_TYPE', ROOMCONFIG, 'hidden'));
  for (const [name, value] of Object.entries(values)) {
    const full = `muc#roomconfig_${name}`;
    if (offered.has(full)) x.append(field(full, typeof value === 'boolean' ? (value ? '1' : '0') : String(value)));
  }
  return xml('iq', { type: 'set', to: room }, xml('query', { xmlns: NS_MUC_OWNER }, x));
}

function field(name: string, value: string, type?: string): Element {
  return xml('field', type ? { var: name, type } : { var: name }, xml('value', {}, value));
}

/** A mediated invitation (sent to the room, which forwards it), carrying the password. */
export function inviteMessage(room: string, to: string, reason: string | undefined, password: string | undefined): Element {
  const invite = xml('invite', { to });
  if (reason) invite.append(xml('reason', {}, reason));
  const x = xml('x', { xmlns: NS_MUC_USER }, invite);
  if (password) x.append(xml('password', {}, password));
  return xml('message', { to: room }, x);
}

export function kickRequest(room: string, nick: string, reason: string | undefined): Element {
  const item = xml('item', { nick, role: 'none' });
  if (reason) item.append(xml('reason', {}, reason));
  return xml('iq', { type: 'set', to: room }, xml('query', { xmlns: NS_MUC_ADMIN }, item));
}

export function destroyRequest(room: string, reason: string | undefined): Element {
  const destroy = xml('destroy', {});
  if (reason) destroy.append(xml('reason', {}, reason));
  return xml('iq', { type: 'set', to: room }, xml('query', { xmlns: NS_MUC_OWNER }, destroy));
}
