// Where mail for a domain goes: its MX hosts by preference, the domain itself when it has none, nothing for a null MX.
import { isIP } from 'node:net';

/** The lookups delivery needs; `new dns.promises.Resolver()` satisfies it, and tests inject their own. */
export interface MxResolver {
  resolveMx(domain: string): Promise<readonly { readonly exchange: string; readonly priority: number }[]>;
  resolve4(host: string): Promise<readonly string[]>;
  resolve6(host: string): Promise<readonly string[]>;
}

/** One address to try: `host` is the name it was found under (for TLS's servername and logs). */
export interface MxTarget {
  readonly host: string;
  readonly address: string;
}

/**
 * A routing failure. `permanent` ones (the domain does not exist, a null MX, no address at all)
 * bounce at once, as Postfix does; the others (a DNS server failing or timing out) are retried.
 */
export class RouteError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    /** The RFC 3463 status for the bounce. */
    readonly status: string,
  ) {
    super(message);
  }
}

function dnsCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/** Names the DNS says do not exist, or exist without records of the type asked. */
const NO_SUCH_NAME = new Set(['ENOTFOUND']);
const NO_DATA = new Set(['ENODATA']);

/** `[192.0.2.1]` or `[IPv6:2001:db8::1]`: an address literal needs no lookup (RFC 5321 §4.1.3). */
function addressLiteral(domain: string): string | undefined {
  const match = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain);
  return match && isIP(match[1]!) !== 0 ? match[1] : undefined;
}

async function addresses(resolver: MxResolver, host: string): Promise<{ found: string[]; missing: boolean; failed?: unknown }> {
  const found: string[] = [];
  let missing = 0;
  let failed: unknown;
  for (const lookup of [resolver.resolve4.bind(resolver), resolver.resolve6.bind(resolver)]) {
    try {
      found.push(...(await lookup(host)));
    } catch (error) {
      const code = dnsCode(error);
      if (code !== undefined && (NO_SUCH_NAME.has(code) || NO_DATA.has(code))) missing++;
      else failed = error;
    }
  }
  return { found, missing: missing === 2, failed };
}

/** Equal preferences are tried in random order, to spread load as RFC 5321 §5.1 asks. */
function byPreference<T extends { readonly priority: number }>(records: readonly T[]): T[] {
  return records
    .map((record) => ({ record, tiebreak: Math.random() }))
    .sort((a, b) => a.record.priority - b.record.priority || a.tiebreak - b.tiebreak)
    .map(({ record }) => record);
}

/**
 * The addresses to try for `domain`, in order: MX hosts by preference, each with its IPv4 then
 * IPv6 addresses; the domain's own A/AAAA when it has no MX (RFC 5321 §5.1). A null MX (RFC 7505:
 * one record, `0 .`) means the domain accepts no mail: a permanent RouteError.
 */
export async function resolveTargets(resolver: MxResolver, domain: string): Promise<MxTarget[]> {
  const literal = addressLiteral(domain);
  if (literal) return [{ host: literal, address: literal }];
  let records: readonly { readonly exchange: string; readonly priority: number }[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (error) {
    const code = dnsCode(error);
    if (code !== undefined && NO_SUCH_NAME.has(code)) throw new RouteError(`domain ${domain} does not exist`, true, '5.1.2');
    if (code !== undefined && NO_DATA.has(code)) records = [];
    else throw new RouteError(`MX lookup for ${domain} failed: ${code ?? String(error)}`, false, '4.4.3');
  }
  const exchanges = records.map((r) => ({ priority: r.priority, exchange: r.exchange.replace(/\.$/, '').toLowerCase() }));
  if (exchanges.some((r) => r.exchange === '')) {
    throw new RouteError(`domain ${domain} accepts no mail (null MX)`, true, '5.1.10');
  }
  const hosts = exchanges.length > 0 ? byPreference(exchanges).map((r) => r.exchange) : [domain];
  const targets: MxTarget[] = [];
  let transient: unknown;
  for (const host of new Set(hosts)) {
    const found = await addresses(resolver, host);
    for (const address of found.found) targets.push({ host, address });
    if (found.failed !== undefined) transient = found.failed;
  }
  if (targets.length > 0) return targets;
  if (transient !== undefined) {
    throw new RouteError(`address lookup for ${domain} failed: ${dnsCode(transient) ?? String(transient)}`, false, '4.4.3');
  }
  const what = exchanges.length > 0 ? `its MX hosts (${hosts.join(', ')}) have no address` : 'it has no MX and no address';
  throw new RouteError(`cannot deliver to ${domain}: ${what}`, true, '5.4.4');
}
