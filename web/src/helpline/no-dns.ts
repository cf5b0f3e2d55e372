// What the browser build gets for `node:dns`: @xmpp/client's resolver imports it for SRV lookups,
// which a page never does (the helpline gives it the server's WebSocket URL). Asking for a lookup
// anyway fails with a plain error instead of a missing module.
function unavailable(): never {
  throw new Error('DNS lookups are not available in the browser; give the XMPP server as a WebSocket URL');
}

export default { lookup: unavailable, resolveSrv: unavailable };
