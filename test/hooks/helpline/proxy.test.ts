// The helpline behind a reverse proxy: with `http.trust-proxy` naming the proxy, a client's
// fingerprint is taken from X-Forwarded-For, so a blocked client is refused by their own address;
// without it, or from a peer that is not a listed proxy, X-Forwarded-For is ignored. Also the
// checks of the `trust-proxy` value.
import type { Host } from 'porter';
import { afterEach, describe, expect, it } from 'vitest';
import { httpSchema } from '../../../src/core/config/schema.js';
import type { HelplineHook } from '../../../src/hooks/helpline/index.js';
import { trustProxySchema } from '../../../src/services/http/trust-proxy.js';
import { openHost, tempDir } from '../../helpers/host.js';

const BLOCKED = '203.0.113.7';
const OTHER = '203.0.113.8';
const opened: { host: Host; remove(): Promise<void> }[] = [];

/** A porter with a helpline on web chat and the given http section; no staff is on duty, so an unblocked client is told "closed". */
async function porter(http: Record<string, unknown>): Promise<{ url: string; hook: HelplineHook }> {
  const { dir, remove } = await tempDir();
  const { host } = await openHost(
    {
      http: { listen: '127.0.0.1:0', ...http },
      plugs: { web: { path: 'webchat.WebChatPlug', config: { staff: [{ username: 'ada', password: 'ada-password' }] } } },
      hooks: {
        desk: {
          path: 'helpline.HelplineHook',
          config: {
            plug: 'web',
            pool: { size: 1 },
            'fingerprint-secret': 'a-secret-of-enough-length',
            staff: { ada: { address: 'staff/ada', token: 'ada-token-0123456789' } },
          },
        },
      },
    },
    dir,
  );
  opened.push({ host, remove });
  return { url: host.http?.url.replace(/\/$/, '') ?? '', hook: host.hooks.get('desk') as HelplineHook };
}

async function ask(url: string, forwardedFor?: string): Promise<number> {
  const response = await fetch(`${url}/api/helpline/queue`, {
    method: 'POST',
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  });
  await response.arrayBuffer();
  return response.status;
}

afterEach(async () => {
  for (const { host, remove } of opened.splice(0)) {
    await host.close();
    await remove();
  }
});

describe('the helpline behind a reverse proxy', () => {
  it('refuses a blocked client by the address a trusted proxy forwards', async () => {
    const { url, hook } = await porter({ 'trust-proxy': ['127.0.0.1', '::1'] });
    await hook.desk.store.block(hook.desk.fingerprint(BLOCKED), 'ada');
    expect(await ask(url, BLOCKED)).toBe(403);
    // Read from the right: the address the proxy saw, not one the client wrote in front of it.
    expect(await ask(url, `${OTHER}, ${BLOCKED}`)).toBe(403);
    expect(await ask(url, `${BLOCKED}, ${OTHER}`)).toBe(200);
    expect(await ask(url, OTHER)).toBe(200);
    // Without the header the proxy itself is the client, and it is not blocked.
    expect(await ask(url)).toBe(200);
  });

  it('ignores X-Forwarded-For from a peer that is not a listed proxy, and by default', async () => {
    for (const http of [{ 'trust-proxy': ['10.0.0.0/8'] }, {}]) {
      const { url, hook } = await porter(http);
      await hook.desk.store.block(hook.desk.fingerprint(BLOCKED), 'ada');
      // A client cannot escape a block nor take someone else's address by writing the header.
      expect(await ask(url, BLOCKED)).toBe(200);
      await hook.desk.store.block(hook.desk.fingerprint('127.0.0.1'), 'ada');
      expect(await ask(url, OTHER)).toBe(403);
    }
  });
});

describe('http.trust-proxy', () => {
  it('takes false, true, addresses and CIDR ranges, as a list or one string', () => {
    expect(trustProxySchema.parse(false)).toBe(false);
    expect(trustProxySchema.parse(true)).toBe(true);
    expect(trustProxySchema.parse(['10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'loopback'])).toEqual([
      '10.0.0.1',
      '10.0.0.0/8',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
    expect(trustProxySchema.parse('127.0.0.1, ::1')).toEqual(['127.0.0.1', '::1']);
    expect(httpSchema.parse({ listen: 8080 })['trust-proxy']).toBe(false);
  });

  it('names what is wrong', () => {
    const entry = httpSchema.safeParse({ 'trust-proxy': ['10.0.0.1', 'proxy.example.org'] });
    expect(entry.error?.issues[0]?.path).toEqual(['trust-proxy', 1]);
    expect(entry.error?.issues[0]?.message).toMatch(/"proxy.example.org" is not an IP address, a CIDR range/);
    expect(trustProxySchema.safeParse(['10.0.0.0/33']).error?.issues[0]?.message).toMatch(/prefix length must be 0–32/);
    expect(trustProxySchema.safeParse(2).error?.issues[0]?.message).toMatch(/a hop count is not supported/);
    expect(trustProxySchema.safeParse([]).error?.issues[0]?.message).toMatch(/expected false, true, or a list/);
    expect(trustProxySchema.safeParse({ proxy: '10.0.0.1' }).error?.issues[0]?.message).toMatch(/expected false, true, or a list/);
  });
});
