// Durations and shares as the staff console shows them.

/** `12 s`, `3 min 5 s`, `1 h 2 min`; tenths below ten seconds (`2.4 s`). */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return whole % 60 === 0 ? `${minutes} min` : `${minutes} min ${whole % 60} s`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** A share of 0–1 as a whole percentage: `50 %`. */
export function formatShare(share: number): string {
  return `${Math.round(share * 100)} %`;
}
