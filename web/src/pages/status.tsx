// The Status page: what this porter runs and in what state, from /api/status, refreshed while open.
import { type ReactNode, useEffect, useState } from 'react';
import type { Page } from '../page.js';

// The shape of /api/status (HostStatus in src/core/host.ts, which cannot be imported here: it brings Node's types).
interface Status {
  readonly plugs: readonly { name: string; path: string; state: string; network?: string }[];
  readonly hooks: readonly { name: string; path: string; state: string; priority?: number }[];
  readonly channels: readonly { name: string; plug: string; source: string }[];
  readonly groups: readonly string[];
}

const REFRESH_MS = 5_000;

function StatusPage() {
  const [status, setStatus] = useState<Status>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    const controller = new AbortController();
    const load = async () => {
      try {
        const response = await fetch('/api/status', { signal: controller.signal, headers: { accept: 'application/json' } });
        if (!response.ok) throw new Error(`/api/status answered ${response.status}`);
        setStatus((await response.json()) as Status);
        setError(undefined);
      } catch (e) {
        if (!controller.signal.aborted) setError(e instanceof Error ? e.message : String(e));
      }
    };
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, []);

  return (
    <section className="page">
      <h1>Status</h1>
      {error && (
        <p className="problem" role="alert">
          Cannot read the status: {error}
        </p>
      )}
      {!status && !error && <p>Loading…</p>}
      {status && (
        <>
          <h2>Plugs</h2>
          <Table
            head={['name', 'network', 'path', 'state']}
            rows={status.plugs.map((p) => [p.name, p.network ?? '', p.path, <State key="state" state={p.state} />])}
            empty="No plugs."
          />
          <h2>Channels</h2>
          <Table
            head={['name', 'plug', 'source']}
            rows={status.channels.map((c) => [c.name, c.plug, c.source])}
            empty="No named channels."
          />
          <h2>Hooks</h2>
          <Table
            head={['name', 'path', 'priority', 'state']}
            rows={status.hooks.map((h) => [h.name, h.path, h.priority ?? '', <State key="state" state={h.state} />])}
            empty="No hooks."
          />
          <h2>Groups</h2>
          {status.groups.length ? <p>{status.groups.join(', ')}</p> : <p className="quiet">No groups.</p>}
        </>
      )}
    </section>
  );
}

function State({ state }: { state: string }) {
  return <span className={`state state-${state}`}>{state}</span>;
}

/** One row per named thing; its first cell, the name, is its key. */
function Table({ head, rows, empty }: { head: readonly string[]; rows: readonly (readonly [string, ...ReactNode[]])[]; empty: string }) {
  if (!rows.length) return <p className="quiet">{empty}</p>;
  return (
    <table>
      <thead>
        <tr>
          {head.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((cells) => (
          <tr key={cells[0]}>
            {cells.map((cell, i) => (
              <td key={head[i]}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export const statusPage: Page = { path: '/', title: 'Status', nav: true, component: StatusPage };
