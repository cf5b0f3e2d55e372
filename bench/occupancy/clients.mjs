#!/usr/bin/env node
// A load generator for the fan-out benchmark, run as a child process: opens N WebSocket or
// long-poll clients to a URL and reports to its parent when each client has received a
// message, with the wall-clock time (shared by every process on the machine).
// Messages from the parent: {reset} starts counting afresh (after the initial state).
import http from 'node:http';
import WebSocket from 'ws';

const { kind, url, count, joyce } = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();
let received = [];
let connected = 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function report() {
  received.push(now());
  if (received.length === count) {
    process.send({ batch: received });
    received = [];
  }
}

async function openWs() {
  await new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('open', () => {
      connected++;
      resolve();
    });
    ws.on('error', reject);
    ws.on('message', () => {
      if (counting) report();
    });
  });
}

function get(path) {
  return new Promise((resolve, reject) => {
    http
      .get(path, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

// A long-poll client: for Joyce, opens a channel and sets its filter, then polls forever.
async function openPoll() {
  let token;
  if (joyce) {
    const [tok] = JSON.parse(await get(`${url}?m=null`));
    token = tok;
    const m = encodeURIComponent(JSON.stringify([token, { type: 'set_msgFilter', occupation: null, roomMap: null, schedule: null }]));
    await get(`${url}?m=${m}`);
  }
  connected++;
  const poll = async () => {
    for (;;) {
      const body = await get(joyce ? `${url}?m=${encodeURIComponent(JSON.stringify([token]))}` : url);
      if (!counting) continue;
      if (joyce) {
        const [, messages] = JSON.parse(body);
        if (messages.length === 0) continue; // a poll timeout, not an update
      }
      report();
    }
  };
  poll().catch((error) => process.send({ error: String(error) }));
}

let counting = false;
process.on('message', (m) => {
  if (m.reset) {
    received = [];
    counting = true;
  }
});
const open = kind === 'ws' ? openWs : openPoll;
const BATCH = 200;
for (let i = 0; i < count; i += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, () => open()));
}
process.send({ connected });
