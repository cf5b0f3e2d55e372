#!/usr/bin/env node
// The baselines porter's occupancy fan-out is compared with: a plain `ws` server and a plain
// node:http long-poll server that broadcast the same payload to every client. No filters, no
// state, no protocol: the least work a server can do per client.
// Usage: node bench/occupancy/plain-servers.mjs ws|longpoll PORT
import http from 'node:http';
import { WebSocketServer } from 'ws';

const [kind, portText] = process.argv.slice(2);
const port = Number(portText ?? 0);
let version = 0;
const payload = () => JSON.stringify([{ type: 'occupation_update', version: ++version, update: { hg137pc01: version % 2 ? 'wu' : 'wf' } }]);

const pending = new Set();
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/push') {
    req.resume();
    req.on('end', () => {
      const body = payload(); // serialised once for every client
      if (kind === 'ws') for (const client of wss.clients) client.send(body);
      else {
        for (const r of pending) r.end(body);
        pending.clear();
      }
      res.end('true');
    });
    return;
  }
  if (kind === 'longpoll' && req.url?.startsWith('/poll')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    pending.add(res);
    req.on('close', () => pending.delete(res));
    return;
  }
  res.writeHead(404).end();
});
const wss = kind === 'ws' ? new WebSocketServer({ server, path: '/ws' }) : undefined;
server.listen(port, '127.0.0.1', () => {
  process.send?.({ ready: server.address().port });
});
process.on('SIGTERM', () => process.exit(0));
