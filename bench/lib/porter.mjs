// Runs porter as the installed command does (bin/porter.js, with the Node flags of its first
// line) for the benchmarks, and a lab layout shared by the occupancy benchmarks.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Starts `porter run CONFIG` and resolves once it has printed its ready line, with the process,
 * what it has printed so far, and stop() (SIGTERM, then SIGKILL after 30 s).
 */
export async function runPorter(config, { cwd = root } = {}) {
  const child = spawn(join(root, 'bin/porter.js'), ['run', config], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (d) => {
    output += d;
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    const ready = () => {
      if (/ ready in \d+ ms/.test(output)) {
        child.stdout.off('data', ready);
        resolve();
      }
    };
    child.stdout.on('data', ready);
    exited.then((code) => reject(new Error(`porter exited with ${code} before it was ready:\n${output}`)));
  });
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(force);
    },
  };
}

export const LAB_TOKEN = 'bench-token';

/**
 * porter with an occupancy board of 40 rooms of 25 PCs (`room7pc3`) under one tag, a push token
 * and a SQLite history, in a fresh temp folder, on a random loopback port.
 */
export async function startLab(name) {
  const dir = await mkdtemp(join(os.tmpdir(), `porter-${name}-`));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const rooms = {};
  for (let r = 0; r < 40; r++) rooms[`room${r}`] = { name: `Room ${r}`, pcs: [`room${r}pc*`] };
  const config = {
    store: `sqlite:${join(dir, 'porter.db')}`,
    http: { listen: `127.0.0.1:${port}` },
    hooks: { board: { path: 'occupancy.OccupancyHook', config: { rooms, tags: { all: Object.keys(rooms) }, push: { token: LAB_TOKEN } } } },
  };
  await writeFile(join(dir, 'porter.json'), JSON.stringify(config));
  const porter = await runPorter(join(dir, 'porter.json'));
  return { ...porter, port, dir };
}

/** POSTs a tkbd push body's `data` to a lab. */
export async function pushTo(port, data) {
  const res = await fetch(`http://127.0.0.1:${port}/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${LAB_TOKEN}` },
    body: JSON.stringify({ datasource: 'bench', data }),
  });
  if (!res.ok) throw new Error(`push failed: ${res.status} ${await res.text()}`);
}
