/**
 * The web server's `trust-proxy` setting: which reverse proxies may tell porter the client's
 * address (X-Forwarded-For), with Fastify's meaning: false, true, or addresses and CIDR ranges of
 * the proxies. Fastify's hop count is refused: Fastify 5 trusts no one with it (a hop count cannot
 * check who the peer is), so it would silently do nothing.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** The range names Fastify (proxy-addr) knows. */
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/** Why `entry` is not a proxy address, CIDR range or range name; undefined when it is one. */
export function proxyEntryProblem(entry: string): string | undefined {
  if (NAMED_RANGES.includes(entry)) return undefined;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address, a CIDR range (10.0.0.0/8) or ${NAMED_RANGES.join(', ')}`;
  if (prefix === undefined) return undefined;
  const bits = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return `"${entry}": the prefix length must be 0–${bits}`;
  return undefined;
}

const EXPECTED = 'expected false, true, or a list of proxy addresses or CIDR ranges (10.0.0.1, 10.0.0.0/8)';

/**
 * `false` (the default): the TCP peer is the client. `true`: any X-Forwarded-For is believed.
 * Addresses or ranges (a list, or one comma-separated string): X-Forwarded-For is believed from
 * those peers only, and read from the right up to the first address that is not one of them.
 * One parse rather than a union, so a wrong entry is named by its place.
 */
export const trustProxySchema = z.unknown().transform((value, ctx): boolean | string[] => {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    ctx.addIssue({
      code: 'custom',
      message: 'a hop count is not supported (Fastify trusts no proxy with one); list the proxies’ addresses or CIDR ranges',
    });
    return z.NEVER;
  }
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((entry) => typeof entry === 'string')) {
    ctx.addIssue({ code: 'custom', message: EXPECTED });
    return z.NEVER;
  }
  const trimmed = list.map((entry: string) => entry.trim());
  trimmed.forEach((entry, i) => {
    const problem = proxyEntryProblem(entry);
    if (problem) ctx.addIssue({ code: 'custom', path: typeof value === 'string' ? [] : [i], message: problem });
  });
  return trimmed;
});

export type TrustProxy = z.output<typeof trustProxySchema>;
