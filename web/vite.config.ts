// Builds the web UI (web/) into dist/web, which porter serves; in development, proxies porter's
// routes to a running porter (PORTER_URL, default http://127.0.0.1:8080).
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const porter = process.env.PORTER_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Absolute asset URLs: the shell is served at every page path (`/board`), not only at `/`.
  base: '/',
  plugins: [react()],
  // @xmpp/client's resolver imports node:dns; pages always give a WebSocket URL, so it is never used.
  resolve: { alias: { 'node:dns': fileURLToPath(new URL('./src/helpline/no-dns.ts', import.meta.url)) } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web/', import.meta.url)),
    // dist/web is outside web/, so Vite would not clear it by itself; stale hashed files would pile up.
    emptyOutDir: true,
  },
  server: {
    // The routes of porter the pages call; a page that calls a new prefix adds it here.
    proxy: {
      '/api': porter,
      '/occupancy': porter,
      '/calendar/bookings': porter,
      '/calendar/freebusy': porter,
      // The helpline pages' chat: porter's web chat WebSocket (the webchat plug's `path`).
      '/chat/ws': { target: porter, ws: true },
    },
  },
});
