// Picks the helpline pages' transport by where the API says the rooms are. The XMPP library loads
// only when a helpline is on XMPP, so the web chat pages (and every other page) stay small.
import type { ChatConnection, ChatEvents, ChatLogin, ChatReach } from './transport.js';
import { connectWebChat } from './webchat.js';

/** Opens a connection to the rooms `reach` names, as `login`, from this page's origin. */
export async function connect(
  reach: ChatReach,
  login: ChatLogin,
  events: ChatEvents,
  origin = window.location.origin,
): Promise<ChatConnection> {
  switch (reach.kind) {
    case 'webchat':
      return connectWebChat(reach, login, events, origin);
    case 'xmpp': {
      const { connectXmpp } = await import('./xmpp.js');
      return connectXmpp(reach, login, events, origin);
    }
    default:
      throw new Error(`this page cannot join rooms on ${reach.network}`);
  }
}
