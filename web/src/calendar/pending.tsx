// One scheduling request waiting for the person's answer: accept, tentative, decline, or propose
// another time (a COUNTER), with an optional comment; the answer goes out as mail from the person.
// A counter-proposal an attendee sent the person (the organiser) is taken here (the event moves to
// the proposed time and goes to every attendee again) or declined.
import { type FormEvent, useId, useState } from 'react';
import { Link } from '../router.js';
import { type Answer, type AnswerBody, answerPending, type PendingRequest } from './api.js';
import { plannerHref } from './paths.js';
import { dateKeyOf, formatSpan, formatTime, parseTime, zonedToUtc } from './time.js';

const VERB: Record<Exclude<Answer, 'COUNTER'>, string> = { ACCEPTED: 'Accept', TENTATIVE: 'Tentative', DECLINED: 'Decline' };
const DONE: Record<Answer, string> = {
  ACCEPTED: 'Accepted',
  TENTATIVE: 'Answered tentative',
  DECLINED: 'Declined',
  COUNTER: 'Proposed another time',
};

export interface PendingItemProps {
  readonly personId: string;
  readonly request: PendingRequest;
  readonly tz: string;
  /** Called once the answer has been sent, with what to tell the person. */
  readonly onAnswered: (uid: string, message: string) => void;
}

export function PendingItem({ personId, request, tz, onAnswered }: PendingItemProps) {
  const id = useId();
  const [comment, setComment] = useState('');
  const [countering, setCountering] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const send = async (body: AnswerBody) => {
    setBusy(true);
    setError(undefined);
    try {
      await answerPending(personId, request.uid, comment.trim() ? { ...body, comment: comment.trim() } : body);
      const proposal = request.method === 'COUNTER';
      const done = proposal ? (body.answer === 'ACCEPTED' ? 'Took the proposed time' : 'Declined the proposal') : DONE[body.answer];
      const to = proposal && body.answer === 'ACCEPTED' ? 'every attendee' : request.organizer;
      onAnswered(
        request.uid,
        `${done}: “${request.summary || request.uid}”. The ${proposal && body.answer === 'ACCEPTED' ? 'new invitation' : 'reply'} was sent to ${to}.`,
      );
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };

  const title = request.summary || request.uid;
  const proposal = request.method === 'COUNTER';
  return (
    <li className="cal-pending" data-uid={request.uid} aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{request.summary || '(no title)'}</h3>
      <p>
        {proposal && 'New time proposed: '}
        <span className="cal-when">{formatSpan(request.start, request.end, tz)}</span>
        <span className="quiet">
          {' '}
          · {proposal ? 'by' : 'from'} {request.organizer || 'unknown'}
          {request.recurring && ' · recurring'}
          {request.method !== 'REQUEST' && !proposal && ` · ${request.method}`}
        </span>
      </p>
      <label className="cal-comment">
        Comment (optional) <input type="text" value={comment} onChange={(e) => setComment(e.target.value)} disabled={busy} />
      </label>
      <fieldset className="cal-answers">
        <legend className="cal-hidden">Answer “{title}”</legend>
        {proposal ? (
          <>
            <button type="button" disabled={busy} onClick={() => void send({ answer: 'ACCEPTED' })}>
              Take the proposed time
            </button>
            <button type="button" disabled={busy} onClick={() => void send({ answer: 'DECLINED' })}>
              Decline the proposal
            </button>
            <Link to={plannerHref({ from: personId, who: [request.organizer], date: dateKeyOf(request.start, tz) })}>
              Invite again at another time
            </Link>
          </>
        ) : (
          <>
            {(Object.keys(VERB) as Exclude<Answer, 'COUNTER'>[]).map((answer) => (
              <button key={answer} type="button" disabled={busy} onClick={() => void send({ answer })}>
                {VERB[answer]}
              </button>
            ))}
            <button type="button" disabled={busy} aria-expanded={countering} onClick={() => setCountering((c) => !c)}>
              Propose another time
            </button>
          </>
        )}
      </fieldset>
      {countering && !proposal && (
        <CounterForm request={request} tz={tz} busy={busy} onSend={(counter) => void send({ answer: 'COUNTER', counter })} />
      )}
      {error && (
        <p className="problem" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

function CounterForm({
  request,
  tz,
  busy,
  onSend,
}: {
  request: PendingRequest;
  tz: string;
  busy: boolean;
  onSend: (counter: { start: number; end: number }) => void;
}) {
  const [date, setDate] = useState(() => dateKeyOf(request.start, tz));
  const [from, setFrom] = useState(() => formatTime(request.start, tz));
  const [to, setTo] = useState(() => formatTime(request.end, tz));
  const [problem, setProblem] = useState<string>();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const start = parseTime(from);
    const end = parseTime(to);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !start || !end) return setProblem('Give a date, a start and an end time.');
    const startMs = zonedToUtc(date, start[0], start[1], tz);
    const endMs = zonedToUtc(date, end[0], end[1], tz);
    if (endMs <= startMs) return setProblem('The end must come after the start.');
    setProblem(undefined);
    onSend({ start: startMs, end: endMs });
  };

  return (
    <form className="cal-counter-form" onSubmit={submit} aria-label="Propose another time">
      <label>
        Date <input type="date" value={date} onChange={(e) => setDate(e.target.value)} required />
      </label>
      <label>
        From <input type="time" value={from} onChange={(e) => setFrom(e.target.value)} required />
      </label>
      <label>
        To <input type="time" value={to} onChange={(e) => setTo(e.target.value)} required />
      </label>
      <span className="quiet">({tz})</span>
      <button type="submit" disabled={busy}>
        Send proposal
      </button>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}
