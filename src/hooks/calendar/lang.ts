/**
 * What the calendar agents write for people to read, in the agent's language (imip-agent's
 * `LANG`): the subjects and texts of the mail they send, a resource's reason for its decision
 * (the reply's COMMENT), and the summaries a person gets of the scheduling mail received.
 * English reasons are the policies' own, with dates and details; other languages say which rule
 * decided, and the proposed time of a counter-proposal.
 */
import type { Decision } from '../../calendar/model.js';
import type { Lang } from './config.js';

export type AnswerWord = 'ACCEPTED' | 'TENTATIVE' | 'DECLINED' | 'DELEGATED';

interface Texts {
  readonly locale: string;
  readonly answer: Record<AnswerWord, string>;
  readonly proposed: string;
  readonly newTime: string;
  readonly proposalDeclined: string;
  readonly notUnderstood: string;
  readonly refresh: string;
  readonly refreshText: string;
  readonly asItStands: string;
  readonly freebusyOf: (who: string) => string;
  readonly freebusyText: string;
  readonly anotherTime: string;
  readonly invites: (who: string, title: string) => string;
  readonly passedOnBy: (who: string) => string;
  /** A sentence per deciding policy, for the reasons of languages other than English. */
  readonly declined: Record<string, (name: string) => string>;
  readonly booked: (name: string, except: number) => string;
  readonly tentative: (name: string) => string;
  readonly counter: (name: string, when: string) => string;
  readonly delegated: (name: string, to: string) => string;
  /** One line of a summary of received scheduling mail. */
  readonly summary: (method: string, sender: string, title: string, when: string) => string;
  readonly summarySubject: (method: string, title: string) => string;
  readonly summaryFooter: string;
}

const EN: Texts = {
  locale: 'en-GB',
  answer: { ACCEPTED: 'Accepted', TENTATIVE: 'Tentative', DECLINED: 'Declined', DELEGATED: 'Delegated' },
  proposed: 'New time proposed',
  newTime: 'New time',
  proposalDeclined: 'Proposal declined',
  notUnderstood: 'Not understood',
  refresh: 'Refresh',
  refreshText: 'Please send the whole event again.',
  asItStands: 'The event as it stands.',
  freebusyOf: (who) => `Free/busy of ${who}`,
  freebusyText: 'Free/busy as requested.',
  anotherTime: 'Another time, please.',
  invites: (who, title) => `${who} invites you: ${title}`,
  passedOnBy: (who) => `Passed on by ${who}.`,
  declined: {},
  booked: (name, except) => (except ? `${name} is booked, except ${except} dates.` : `${name} is booked.`),
  tentative: (name) => `${name} is booked tentatively, waiting for approval.`,
  counter: (name, when) => `${name} proposes ${when}.`,
  delegated: (name, to) => `${name} passes the booking to ${to}.`,
  summary: (method, sender, title, when) =>
    ({
      REQUEST: `${sender} invites you to “${title}” (${when}). It waits for your answer on the calendar page.`,
      ADD: `${sender} adds dates to “${title}” (${when}).`,
      CANCEL: `${sender} cancelled “${title}” (${when}).`,
      REPLY: `${sender} answered about “${title}” (${when}).`,
      COUNTER: `${sender} proposes another time for “${title}”: ${when}. It waits for your answer on the calendar page.`,
      DECLINECOUNTER: `${sender} declined your proposal for “${title}”.`,
      PUBLISH: `${sender} published “${title}” (${when}).`,
      REFRESH: `${sender} asks for the whole of “${title}” again.`,
      FREEBUSY: `${sender} sent their free/busy time.`,
    })[method] ?? `${sender}: ${method} about “${title}”.`,
  summarySubject: (method, title) =>
    ({
      REQUEST: `Invitation: ${title}`,
      CANCEL: `Cancelled: ${title}`,
      REPLY: `Answer: ${title}`,
      COUNTER: `New time proposed: ${title}`,
      FREEBUSY: 'Free/busy received',
    })[method] ?? `${method}: ${title}`,
  summaryFooter: 'porter has recorded this in your calendar.',
};

const DE: Texts = {
  locale: 'de-DE',
  answer: { ACCEPTED: 'Angenommen', TENTATIVE: 'Vorläufig', DECLINED: 'Abgelehnt', DELEGATED: 'Weitergeleitet' },
  proposed: 'Neuer Terminvorschlag',
  newTime: 'Neue Zeit',
  proposalDeclined: 'Vorschlag abgelehnt',
  notUnderstood: 'Nicht verstanden',
  refresh: 'Aktualisierung',
  refreshText: 'Bitte senden Sie den ganzen Termin noch einmal.',
  asItStands: 'Der Termin, wie er jetzt steht.',
  freebusyOf: (who) => `Frei/Belegt von ${who}`,
  freebusyText: 'Frei/Belegt wie angefragt.',
  anotherTime: 'Bitte zu einer anderen Zeit.',
  invites: (who, title) => `${who} lädt Sie ein: ${title}`,
  passedOnBy: (who) => `Weitergeleitet von ${who}.`,
  declined: {
    free: (name) => `${name} ist zu dieser Zeit bereits belegt.`,
    capacity: (name) => `${name} ist zu dieser Zeit bereits belegt.`,
    recurring: (name) => `Zu viele Termine der Serie sind bei ${name} bereits belegt.`,
    'no-recurring': (name) => `${name} nimmt keine Serienbuchungen an.`,
    window: (name) => `Der Termin liegt außerhalb des Buchungszeitraums von ${name}.`,
    duration: (name) => `Diese Dauer ist für ${name} nicht erlaubt.`,
    hours: (name) => `Der Termin liegt außerhalb der erlaubten Zeiten von ${name}.`,
    counter: (name) => `${name} hat in der Nähe der gewünschten Zeit keinen freien Termin.`,
    who: (name) => `Sie dürfen ${name} nicht buchen.`,
    quota: (name) => `Ihr Kontingent für ${name} ist ausgeschöpft.`,
    request: (name) => `Die Buchung hat keine Termine in dem Zeitraum, den ${name} verwaltet.`,
    pool: (name) => `Keine der Ressourcen von ${name} ist frei.`,
    approval: (name) => `${name} lehnt die Buchung ab.`,
  },
  booked: (name, except) => (except ? `${name} ist gebucht, außer an ${except} Terminen.` : `${name} ist gebucht.`),
  tentative: (name) => `${name} ist vorläufig gebucht; die Buchung muss noch bestätigt werden.`,
  counter: (name, when) => `${name} schlägt ${when} vor.`,
  delegated: (name, to) => `${name} gibt die Buchung an ${to} weiter.`,
  summary: (method, sender, title, when) =>
    ({
      REQUEST: `${sender} lädt Sie zu „${title}“ ein (${when}). Ihre Antwort geben Sie auf der Kalenderseite.`,
      ADD: `${sender} fügt „${title}“ Termine hinzu (${when}).`,
      CANCEL: `${sender} hat „${title}“ abgesagt (${when}).`,
      REPLY: `${sender} hat auf „${title}“ geantwortet (${when}).`,
      COUNTER: `${sender} schlägt für „${title}“ eine andere Zeit vor: ${when}. Ihre Antwort geben Sie auf der Kalenderseite.`,
      DECLINECOUNTER: `${sender} hat Ihren Vorschlag für „${title}“ abgelehnt.`,
      PUBLISH: `${sender} hat „${title}“ veröffentlicht (${when}).`,
      REFRESH: `${sender} bittet noch einmal um den ganzen Termin „${title}“.`,
      FREEBUSY: `${sender} hat seine Frei/Belegt-Zeiten geschickt.`,
    })[method] ?? `${sender}: ${method} zu „${title}“.`,
  summarySubject: (method, title) =>
    ({
      REQUEST: `Einladung: ${title}`,
      CANCEL: `Abgesagt: ${title}`,
      REPLY: `Antwort: ${title}`,
      COUNTER: `Neuer Terminvorschlag: ${title}`,
      FREEBUSY: 'Frei/Belegt erhalten',
    })[method] ?? `${method}: ${title}`,
  summaryFooter: 'porter hat dies in Ihrem Kalender vermerkt.',
};

const NL: Texts = {
  locale: 'nl-NL',
  answer: { ACCEPTED: 'Geaccepteerd', TENTATIVE: 'Voorlopig', DECLINED: 'Afgewezen', DELEGATED: 'Doorgegeven' },
  proposed: 'Nieuwe tijd voorgesteld',
  newTime: 'Nieuwe tijd',
  proposalDeclined: 'Voorstel afgewezen',
  notUnderstood: 'Niet begrepen',
  refresh: 'Vernieuwen',
  refreshText: 'Stuur de hele afspraak alstublieft opnieuw.',
  asItStands: 'De afspraak zoals die nu is.',
  freebusyOf: (who) => `Vrij/bezet van ${who}`,
  freebusyText: 'Vrij/bezet zoals gevraagd.',
  anotherTime: 'Graag een andere tijd.',
  invites: (who, title) => `${who} nodigt u uit: ${title}`,
  passedOnBy: (who) => `Doorgegeven door ${who}.`,
  declined: {
    free: (name) => `${name} is op dat moment al bezet.`,
    capacity: (name) => `${name} is op dat moment al bezet.`,
    recurring: (name) => `Te veel datums van de reeks zijn bij ${name} al bezet.`,
    'no-recurring': (name) => `${name} neemt geen terugkerende boekingen aan.`,
    window: (name) => `De afspraak valt buiten de boekingstermijn van ${name}.`,
    duration: (name) => `Deze duur is voor ${name} niet toegestaan.`,
    hours: (name) => `De afspraak valt buiten de toegestane tijden van ${name}.`,
    counter: (name) => `${name} heeft rond de gevraagde tijd geen vrije plek.`,
    who: (name) => `U mag ${name} niet boeken.`,
    quota: (name) => `Uw tegoed voor ${name} is op.`,
    request: (name) => `De boeking heeft geen datums in de periode die ${name} beheert.`,
    pool: (name) => `Geen van de middelen van ${name} is vrij.`,
    approval: (name) => `${name} wijst de boeking af.`,
  },
  booked: (name, except) => (except ? `${name} is geboekt, behalve op ${except} datums.` : `${name} is geboekt.`),
  tentative: (name) => `${name} is voorlopig geboekt; de boeking moet nog worden goedgekeurd.`,
  counter: (name, when) => `${name} stelt ${when} voor.`,
  delegated: (name, to) => `${name} geeft de boeking door aan ${to}.`,
  summary: (method, sender, title, when) =>
    ({
      REQUEST: `${sender} nodigt u uit voor „${title}” (${when}). Uw antwoord geeft u op de agendapagina.`,
      ADD: `${sender} voegt datums toe aan „${title}” (${when}).`,
      CANCEL: `${sender} heeft „${title}” afgezegd (${when}).`,
      REPLY: `${sender} heeft geantwoord op „${title}” (${when}).`,
      COUNTER: `${sender} stelt voor „${title}” een andere tijd voor: ${when}. Uw antwoord geeft u op de agendapagina.`,
      DECLINECOUNTER: `${sender} heeft uw voorstel voor „${title}” afgewezen.`,
      PUBLISH: `${sender} heeft „${title}” gepubliceerd (${when}).`,
      REFRESH: `${sender} vraagt opnieuw om de hele afspraak „${title}”.`,
      FREEBUSY: `${sender} heeft vrij/bezet-tijden gestuurd.`,
    })[method] ?? `${sender}: ${method} over „${title}”.`,
  summarySubject: (method, title) =>
    ({
      REQUEST: `Uitnodiging: ${title}`,
      CANCEL: `Afgezegd: ${title}`,
      REPLY: `Antwoord: ${title}`,
      COUNTER: `Nieuwe tijd voorgesteld: ${title}`,
      FREEBUSY: 'Vrij/bezet ontvangen',
    })[method] ?? `${method}: ${title}`,
  summaryFooter: 'porter heeft dit in uw agenda bijgehouden.',
};

const TEXTS: Record<Lang, Texts> = { en: EN, de: DE, nl: NL };

export function texts(lang: Lang): Texts {
  return TEXTS[lang];
}

/** A period on the agent's clock in its language: `Mon 23 Nov 2026, 10:00–11:00`. */
export function formatPeriod(lang: Lang, tzid: string, start: number, end: number): string {
  const { locale } = texts(lang);
  const day = new Intl.DateTimeFormat(locale, { timeZone: tzid, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
  const time = new Intl.DateTimeFormat(locale, { timeZone: tzid, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const sameDay = day.format(start) === day.format(end - 1);
  return sameDay
    ? `${day.format(start)}, ${time.format(start)}–${time.format(end)} (${tzid})`
    : `${day.format(start)}, ${time.format(start)} – ${day.format(end)}, ${time.format(end)} (${tzid})`;
}

/** The reason of a decision, as the organizer reads it in the reply's COMMENT. */
export function reasonIn(lang: Lang, decision: Decision, name: string, tzid: string): string {
  if (lang === 'en') return decision.reason;
  const t = texts(lang);
  switch (decision.outcome) {
    case 'ACCEPTED':
      return t.booked(name, decision.declinedInstances?.length ?? 0);
    case 'TENTATIVE':
      return t.tentative(name);
    case 'COUNTER':
      return decision.counter ? t.counter(name, formatPeriod(lang, tzid, decision.counter.start, decision.counter.end)) : t.booked(name, 0);
    case 'DELEGATED':
      return t.delegated(name, decision.delegateTo ?? '');
    default:
      return (t.declined[decision.policy] ?? ((n: string) => `${n}: ${t.answer.DECLINED}.`))(name);
  }
}
