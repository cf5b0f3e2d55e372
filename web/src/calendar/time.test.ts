// Wall-clock time in an agent's zone: conversions both ways across DST changes, dates, and how times read.
import { describe, expect, it } from 'vitest';
import {
  addDays,
  dateKeyOf,
  formatDate,
  formatSpan,
  formatTime,
  isDateKey,
  isTimeZone,
  mondayOf,
  parseTime,
  wallClock,
  weekdayOf,
  zonedToUtc,
  zoneOffset,
} from './time.js';

const utc = (s: string) => Date.parse(s);

describe('wall clock in a zone', () => {
  it('reads the same instant on different clocks', () => {
    const t = utc('2026-11-23T08:30:00Z');
    expect(formatTime(t, 'Europe/Berlin')).toBe('09:30');
    expect(formatTime(t, 'America/New_York')).toBe('03:30');
    expect(formatTime(t, 'Asia/Kolkata')).toBe('14:00');
    expect(wallClock(t, 'Pacific/Auckland')).toEqual({ year: 2026, month: 11, day: 23, hour: 21, minute: 30 });
    expect(dateKeyOf(utc('2026-11-23T23:30:00Z'), 'Europe/Berlin')).toBe('2026-11-24');
  });

  it('knows the offset on each side of a DST change', () => {
    expect(zoneOffset(utc('2026-03-29T00:59:00Z'), 'Europe/Berlin')).toBe(3600_000);
    expect(zoneOffset(utc('2026-03-29T01:00:00Z'), 'Europe/Berlin')).toBe(7200_000);
    expect(zoneOffset(utc('2026-11-23T12:00:00Z'), 'UTC')).toBe(0);
  });

  it('turns a wall-clock time into UTC, in summer and in winter', () => {
    expect(zonedToUtc('2026-07-01', 9, 0, 'Europe/Berlin')).toBe(utc('2026-07-01T07:00:00Z'));
    expect(zonedToUtc('2026-12-01', 9, 0, 'Europe/Berlin')).toBe(utc('2026-12-01T08:00:00Z'));
    expect(zonedToUtc('2026-11-23', 0, 0, 'America/Los_Angeles')).toBe(utc('2026-11-23T08:00:00Z'));
  });

  it('moves a time in the spring gap past the gap, and takes the first of autumn’s repeated hour', () => {
    // Berlin skips 02:00–03:00 on 29 March 2026; 02:30 becomes 03:30 CEST.
    expect(zonedToUtc('2026-03-29', 2, 30, 'Europe/Berlin')).toBe(utc('2026-03-29T01:30:00Z'));
    expect(formatTime(zonedToUtc('2026-03-29', 2, 30, 'Europe/Berlin'), 'Europe/Berlin')).toBe('03:30');
    // 25 October 2026 has 02:30 twice: first in CEST (00:30 UTC).
    expect(zonedToUtc('2026-10-25', 2, 30, 'Europe/Berlin')).toBe(utc('2026-10-25T00:30:00Z'));
    // New York's gap is at 02:00 on 8 March.
    expect(zonedToUtc('2026-03-08', 2, 15, 'America/New_York')).toBe(utc('2026-03-08T07:15:00Z'));
  });

  it('round-trips every half hour of a DST week', () => {
    for (const tz of ['Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'UTC']) {
      for (let day = 0; day < 7; day += 1) {
        const date = addDays('2026-03-26', day);
        for (let minute = 0; minute < 24 * 60; minute += 30) {
          const ms = zonedToUtc(date, Math.floor(minute / 60), minute % 60, tz);
          const w = wallClock(ms, tz);
          // Either the same wall time, or (in a gap) an hour later.
          const got = w.hour * 60 + w.minute;
          expect([minute, minute + 60], `${tz} ${date} ${minute}`).toContain(got);
        }
      }
    }
  });

  it('tells a zone it knows from one it does not', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});

describe('dates', () => {
  it('adds days across months, years and DST without a zone', () => {
    expect(addDays('2026-03-28', 2)).toBe('2026-03-30');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });

  it('finds the Monday of a week', () => {
    expect(weekdayOf('2026-11-23')).toBe(0);
    expect(weekdayOf('2026-11-29')).toBe(6);
    expect(mondayOf('2026-11-29')).toBe('2026-11-23');
    expect(mondayOf('2026-11-23')).toBe('2026-11-23');
    expect(mondayOf('2027-01-01')).toBe('2026-12-28');
  });

  it('accepts real dates only', () => {
    expect(isDateKey('2026-11-23')).toBe(true);
    expect(isDateKey('2026-02-30')).toBe(false);
    expect(isDateKey('23.11.2026')).toBe(false);
    expect(isDateKey('')).toBe(false);
  });
});

describe('how times read', () => {
  it('shows a date, a span on one day, and a span over midnight', () => {
    expect(formatDate('2026-11-23')).toBe('Mon 23 Nov');
    const tz = 'Europe/Berlin';
    expect(formatSpan(utc('2026-11-23T08:30:00Z'), utc('2026-11-23T09:00:00Z'), tz)).toBe('Mon 23 Nov 09:30–10:00');
    // Ending at midnight is still the same day.
    expect(formatSpan(utc('2026-11-23T21:00:00Z'), utc('2026-11-23T23:00:00Z'), tz)).toBe('Mon 23 Nov 22:00–00:00');
    expect(formatSpan(utc('2026-11-23T21:00:00Z'), utc('2026-11-24T00:00:00Z'), tz)).toBe('Mon 23 Nov 22:00 – Tue 24 Nov 01:00');
  });

  it('reads a time typed as HH:MM', () => {
    expect(parseTime('09:30')).toEqual([9, 30]);
    expect(parseTime('9:05')).toEqual([9, 5]);
    expect(parseTime('24:00')).toBeUndefined();
    expect(parseTime('noon')).toBeUndefined();
  });
});
