#!/usr/bin/env node
// XMPP room figures on a loopback Prosody: the time for porter's xmpp plug to create and configure
// a room (join → 201 → owner form → submit), and to invite a client and have it join with the
// password from the invitation (invite sent → invitation received → join confirmed by the room).
// Usage: npm run build && node --import tsx bench/xmpp-rooms.mjs [rooms]   (Debian's prosody; installed when missing)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, Logging, resolveConfig } from '../dist/index.js';
import { ANON_DOMAIN, DOMAIN, MUC_DOMAIN, startProsody } from '../test/peers/prosody.ts';
import { TestClient } from '../test/plugs/xmpp/client.ts';
import { percentile } from './lib/stats.mjs';

const ROOMS = Number(process.argv[2] ?? 50);
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

const prosody = await startProsody();
const dir = await mkdtemp(join(tmpdir(), 'porter-bench-xmpp-'));
await prosody.register('porterbot', 'bot-password');
const config = await resolveConfig(
  {
    store: `sqlite:${join(dir, 'porter.db')}`,
    plugs: {
      chat: {
        path: 'xmpp.XmppPlug',
        config: { jid: `porterbot@${DOMAIN}`, password: 'bot-password', service: prosody.service, tls: 'none', muc: MUC_DOMAIN },
      },
    },
  },
  { baseDir: dir },
);
const host = new Host(config, { logging: Logging.create({ version: 1, root: { level: 'ERROR' } }), announce: false });
await host.open();
const plug = host.plugs.get('chat');
const client = await TestClient.connect(prosody.service, ANON_DOMAIN);

const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const createTimes = [];
const joinTimes = [];
try {
  for (let i = 0; i < ROOMS; i++) {
    const password = `pw-${i}-${Math.random().toString(36).slice(2)}`;
    let start = process.hrtime.bigint();
    const channel = await plug.createRoom({ password, historyLength: 5 });
    createTimes.push(ms(start));

    start = process.hrtime.bigint();
    const invited = client.waitFor(
      'an invitation',
      (s) => s.is('message') && s.attrs.from === channel.source && !!s.getChild('x', NS_MUC_USER)?.getChild('invite'),
    );
    await plug.invite(channel, client.jid);
    const invitation = await invited;
    const outcome = await client.join(channel.source, 'client', invitation.getChild('x', NS_MUC_USER).getChildText('password'));
    if (outcome !== 'joined') throw new Error(`the client could not join ${channel.source}: ${outcome}`);
    joinTimes.push(ms(start));
    await plug.destroyRoom(channel);
  }
} finally {
  await client.stop();
  await host.close();
  await prosody.remove();
  await rm(dir, { recursive: true, force: true });
}

const line = (label, values) =>
  console.log(
    `${label.padEnd(22)} p50 ${percentile(values, 50).toFixed(1)} ms   p99 ${percentile(values, 99).toFixed(1)} ms   (${values.length} rooms)`,
  );
console.log(`xmpp rooms on loopback Prosody (${new Date().toISOString()})`);
line('create + configure', createTimes);
line('invite + join', joinTimes);
