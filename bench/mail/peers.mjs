// Helpers for the mail benchmarks: free ports, porter as a child process with the mail hook,
// a private Postfix instance (never the system's), smtp-source and smtp-sink, file counts.
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { root, runPorter } from '../lib/porter.mjs';

const run = promisify(execFile);

export { root };

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts connections on 127.0.0.1:port (polling), or throws. */
export async function waitForPort(port, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Number of files (not folders) directly in each of the given folders; missing ones count 0. */
export async function countFiles(...dirs) {
  let n = 0;
  for (const d of dirs) {
    try {
      for (const e of await readdir(d, { withFileTypes: true })) if (e.isFile()) n++;
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return n;
}

/** Number of files in a folder and every folder under it; a missing folder counts 0. */
export async function countFilesDeep(dir) {
  let n = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return 0;
    throw err;
  }
  for (const e of entries) {
    if (e.isFile()) n++;
    else if (e.isDirectory()) n += await countFilesDeep(join(dir, e.name));
  }
  return n;
}

/** CPU seconds (user + system) a process has used so far (Linux, /proc). */
export async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * porter with the mail hook, in DIR: one domain (example.org), one user (u@example.org,
 * password x), an SMTP listener (and optionally a submission listener) on loopback, spool and
 * mailboxes in DIR. `outbound` is the hook's `outbound` mapping, if any; `ipcSocket` a path for
 * the hook's IPC socket (`ipc.socket`), if any.
 */
export async function startPorter(dir, { smtpPort, submissionPort, pop3Port, outbound, ipcSocket } = {}) {
  const listeners = [`          - {address: '127.0.0.1:${smtpPort}', mode: smtp}`];
  if (submissionPort) listeners.push(`          - {address: '127.0.0.1:${submissionPort}', mode: submission, allow-insecure-auth: true}`);
  const config = join(dir, 'porter.yaml');
  await writeFile(
    config,
    [
      'store: sqlite:mail.db',
      'hooks:',
      '  mail:',
      '    path: mail.MailHook',
      '    config:',
      '      domains: [example.org]',
      '      spool: spool',
      '      mailboxes: mail',
      `      pop3: '127.0.0.1:${pop3Port ?? (await freePort())}'`,
      '      smtp:',
      '        hostname: porter.bench',
      '        max-clients: 1000',
      '        listeners:',
      ...listeners,
      ...(outbound ? ['      outbound:', ...yamlLines(outbound, 8)] : []),
      ...(ipcSocket ? ['      ipc:', `        socket: ${JSON.stringify(ipcSocket)}`] : []),
      '',
    ].join('\n'),
  );
  await run(process.execPath, ['bin/porter.js', 'user', '-c', config, 'add', 'u@example.org', '--password', 'x'], {
    cwd: root,
  });
  const porter = await runPorter(config);
  await waitForPort(smtpPort);
  return {
    pid: porter.child.pid,
    config,
    spool: join(dir, 'spool'),
    mailbox: join(dir, 'mail', 'u@example.org'),
    output: porter.output,
    stop: porter.stop,
  };
}

function yamlLines(value, indent) {
  const pad = ' '.repeat(indent);
  const lines = [];
  for (const [k, v] of Object.entries(value)) {
    if (v && typeof v === 'object') lines.push(`${pad}${k}:`, ...yamlLines(v, indent + 2));
    else lines.push(`${pad}${k}: ${JSON.stringify(v)}`);
  }
  return lines;
}

/**
 * A private Postfix in DIR (config DIR/etc, queue DIR/spool, log DIR/log/maillog), smtpd on
 * 127.0.0.1:port. `settings` are extra main.cf lines, e.g. `default_transport = discard` or
 * `relayhost = [127.0.0.1]:2526`. `holdPort`, if given, is a second smtpd whose mail goes to
 * the hold queue (`check_client_access static:HOLD`), to be released with `release()`.
 */
export async function startPostfix(dir, port, settings, { holdPort } = {}) {
  const etc = join(dir, 'etc');
  await cp('/etc/postfix', etc, { recursive: true });
  for (const d of ['spool', 'data', 'log']) await mkdir(join(dir, d), { recursive: true });
  const main = await readFile(join(etc, 'main.cf'), 'utf8');
  const ours = {
    config_directory: etc,
    meta_directory: etc,
    queue_directory: join(dir, 'spool'),
    data_directory: join(dir, 'data'),
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mydestination: '',
    local_recipient_maps: '',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject',
    maillog_file: join(dir, 'log', 'maillog'),
    // Postfix refuses a log file outside these folders (default: /var, /dev/stdout).
    maillog_file_prefixes: `/var, /dev/stdout, ${join(dir, 'log')}`,
    ...settings,
  };
  const kept = main.split('\n').filter((line) => {
    const m = /^([a-z_]+)\s*=/.exec(line);
    return !(m && m[1] in ours);
  });
  await writeFile(
    join(etc, 'main.cf'),
    `${kept.join('\n')}\n${Object.entries(ours)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n')}\n`,
  );
  const master = await readFile(join(etc, 'master.cf'), 'utf8');
  let services = master.replace(/^smtp\s+inet\s.*$/m, `127.0.0.1:${port} inet n - n - - smtpd`);
  if (holdPort)
    services += `\n127.0.0.1:${holdPort} inet n - n - - smtpd\n  -o smtpd_client_restrictions=check_client_access,static:HOLD\n`;
  await writeFile(join(etc, 'master.cf'), services);
  await run('chown', ['postfix:postfix', join(dir, 'data')]);
  try {
    await run('postfix', ['-c', etc, 'check']);
    await run('postfix', ['-c', etc, 'start']);
  } catch (err) {
    const log = await readFile(join(dir, 'log', 'maillog'), 'utf8').catch(() => '');
    throw new Error(`${err.message.trim()}\n${log.split('\n').slice(-10).join('\n')}`);
  }
  await waitForPort(port);
  if (holdPort) await waitForPort(holdPort);
  const spool = join(dir, 'spool');
  return {
    etc,
    spool,
    /** Messages in the hold queue. */
    held: () => countFilesDeep(join(spool, 'hold')),
    /** Releases every held message and asks for delivery now (`postsuper -H ALL`, `postqueue -f`). */
    async release() {
      await run('postsuper', ['-c', etc, '-H', 'ALL']);
      await run('postqueue', ['-c', etc, '-f']);
    },
    /** Messages still in Postfix's queues (maildrop, incoming, active, deferred, hold). */
    async queued() {
      let n = 0;
      for (const q of ['maildrop', 'incoming', 'active', 'deferred', 'hold']) n += await countFilesDeep(join(spool, q));
      return n;
    },
    async stop() {
      await run('postfix', ['-c', etc, 'stop']).catch(() => {});
      // master exits a moment after `stop` returns; wait for its pid file to go stale.
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline) {
        const pid = Number(await readFile(join(dir, 'spool', 'pid', 'master.pid'), 'utf8').catch(() => '0'));
        if (!pid) break;
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Runs smtp-source with the given arguments; resolves with the wall-clock seconds it took. */
export async function smtpSource(args) {
  const started = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`smtp-source ${args.join(' ')} exited with ${code}: ${err}`))));
  });
  return Number(process.hrtime.bigint() - started) / 1e9;
}
