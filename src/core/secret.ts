/** Comparing secrets (tokens, bearer headers) without leaking them through timing. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares in time that depends on neither secret's content nor length (hashing makes the lengths equal). */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
