// The staff console's durations and shares.
import { describe, expect, it } from 'vitest';
import { formatSeconds, formatShare } from './format.js';

describe('formatSeconds', () => {
  it('shows tenths below ten seconds, whole seconds below a minute', () => {
    expect(formatSeconds(0)).toBe('0 s');
    expect(formatSeconds(2.44)).toBe('2.4 s');
    expect(formatSeconds(15)).toBe('15 s');
    expect(formatSeconds(59.6)).toBe('1 min');
  });

  it('shows minutes and hours with their remainders', () => {
    expect(formatSeconds(185)).toBe('3 min 5 s');
    expect(formatSeconds(3600)).toBe('1 h');
    expect(formatSeconds(3720)).toBe('1 h 2 min');
  });

  it('shows a dash for what is not a duration', () => {
    expect(formatSeconds(-1)).toBe('–');
    expect(formatSeconds(Number.NaN)).toBe('–');
  });
});

describe('formatShare', () => {
  it('rounds to a whole percentage', () => {
    expect(formatShare(0.5)).toBe('50 %');
    expect(formatShare(1 / 3)).toBe('33 %');
  });
});
