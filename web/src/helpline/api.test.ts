// The helpline pages' reading of the API: which API a page talks to, and the `chat` reach.
import { describe, expect, it } from 'vitest';
import { Reader } from '../calendar/read.js';
import { apiFrom, DEFAULT_API, readChat } from './api.js';

describe('apiFrom', () => {
  it('is the default without ?api=, and a path on this site with it', () => {
    expect(apiFrom(new URLSearchParams())).toBe(DEFAULT_API);
    expect(apiFrom(new URLSearchParams('api=/api/other/'))).toBe('/api/other');
  });

  it('refuses another site, naming the parameter', () => {
    expect(() => apiFrom(new URLSearchParams('api=https://evil.example/api'))).toThrow(
      /^\?api=https:\/\/evil\.example\/api: expected a path on this site/,
    );
    expect(() => apiFrom(new URLSearchParams('api=//evil.example/api'))).toThrow(/expected a path on this site/);
  });
});

describe('readChat', () => {
  it('reads web chat, XMPP with its browser reach, and other networks', () => {
    expect(readChat(new Reader({ kind: 'webchat', path: '/chat/ws' }, 'chat'))).toEqual({ kind: 'webchat', path: '/chat/ws' });
    expect(
      readChat(
        new Reader(
          { kind: 'xmpp', muc: 'conference.localhost', websocket: 'ws://127.0.0.1:5280/xmpp-websocket', anonymous: 'anon.localhost' },
          'chat',
        ),
      ),
    ).toEqual({ kind: 'xmpp', muc: 'conference.localhost', websocket: 'ws://127.0.0.1:5280/xmpp-websocket', anonymous: 'anon.localhost' });
    expect(readChat(new Reader({ kind: 'other', network: 'IRC' }, 'chat'))).toEqual({ kind: 'other', network: 'IRC' });
  });

  it('names the field that is wrong', () => {
    expect(() => readChat(new Reader({ kind: 'webchat' }, 'chat'))).toThrow('chat.path: expected a string');
  });
});
