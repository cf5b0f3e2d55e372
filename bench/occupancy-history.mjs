#!/usr/bin/env node
// History benchmark: tkbd's get_historic_updates at offset 5,000,000 of 10,000,000 recorded
// changes (SQLite), timed through the occupancy history as the service calls it.
// Usage: npm run build && node bench/occupancy-history.mjs [rows]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { OccupancyHistory, occupancyMigrations } from '../dist/hooks/occupancy/history.js';
import { Store } from '../dist/services/store/index.js';

const ROWS = Number(process.argv[2] ?? 10_000_000);
const OFFSET = Math.floor(ROWS / 2);
const dir = await mkdtemp(join(os.tmpdir(), 'porter-history-'));
const file = join(dir, 'porter.db');
const log = pino({ level: 'silent' });

let store = await Store.open(`sqlite:${file}`, { baseDir: dir, log });
await store.migrate('occupancy', occupancyMigrations);
await store.close();

// Fill the table directly: recording 10 million changes through porter would take minutes.
const fillStart = performance.now();
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = OFF');
db.exec(`
  with recursive n(i) as (select 0 union all select i + 1 from n where i < ${ROWS - 1})
  insert into occupancy_update (board, seq, pc, source, at, state)
  select 'board', i, 'room' || (i % 40) || 'pc' || (i % 25), case i % 3 when 0 then 'scan' else 'log' end,
         1700000000000 + i * 1000, case i % 4 when 0 then 'wf' when 1 then 'wu' when 2 then 'lf' else 'lu' end
  from n`);
db.close();
const fillSeconds = (performance.now() - fillStart) / 1000;

store = await Store.open(`sqlite:${file}`, { baseDir: dir, log });
const history = new OccupancyHistory(store, 'board', log);
const times = [];
let rows = 0;
for (let i = 0; i < 60; i++) {
  const t0 = performance.now();
  const updates = await history.historicUpdates(OFFSET + i * 997, 1000);
  times.push(performance.now() - t0);
  rows = updates.length;
}
const warm = times.slice(10).sort((a, b) => a - b);
await history.close();
await store.close();
await rm(dir, { recursive: true, force: true });

const pct = (p) => warm[Math.min(warm.length - 1, Math.floor((p / 100) * warm.length))].toFixed(2);
console.log(
  `occupancy history: ${ROWS.toLocaleString('en-GB')} rows in SQLite (filled in ${fillSeconds.toFixed(0)} s), node ${process.version}`,
);
console.log(
  `get_historic_updates at offset ${OFFSET.toLocaleString('en-GB')}, count 1000 (${rows} rows back): first ${times[0].toFixed(2)} ms; p50 ${pct(50)} ms, p99 ${pct(99)} ms over 50 warm calls`,
);
