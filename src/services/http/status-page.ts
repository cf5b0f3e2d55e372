/**
 * The web UI's first page until the feature pages arrive: what this porter runs and in what
 * state, rendered on the server (no script), refreshed every 10 s.
 */
import { escapeHtml } from '../../core/message.js';

export interface StatusView {
  readonly version: string;
  readonly plugs: readonly { name: string; path: string; state: string; network: string | undefined }[];
  readonly hooks: readonly { name: string; path: string; state: string; priority: number | undefined }[];
  readonly channels: readonly { name: string; plug: string; source: string }[];
}

export function renderStatusPage(view: StatusView): string {
  const rows = (cells: readonly (string | number | undefined)[][]) =>
    cells.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c ?? ''))}</td>`).join('')}</tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>porter</title>
<style>body{font:16px system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse;width:100%;margin-bottom:2rem}
td,th{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd}.active{color:#080}</style></head>
<body><h1>porter ${escapeHtml(view.version)}</h1>
<h2>Plugs</h2><table><tr><th>name</th><th>network</th><th>path</th><th>state</th></tr>${rows(view.plugs.map((p) => [p.name, p.network, p.path, p.state]))}</table>
<h2>Channels</h2><table><tr><th>name</th><th>plug</th><th>source</th></tr>${rows(view.channels.map((c) => [c.name, c.plug, c.source]))}</table>
<h2>Hooks</h2><table><tr><th>name</th><th>path</th><th>priority</th><th>state</th></tr>${rows(view.hooks.map((h) => [h.name, h.path, h.priority, h.state]))}</table>
<p><a href="api/status">api/status</a> (JSON)</p></body></html>`;
}
