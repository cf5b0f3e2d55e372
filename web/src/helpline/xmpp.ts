// Placeholder until the XMPP transport lands: helplines on XMPP cannot be joined from this build.
import type { Connect } from './transport.js';

export const connectXmpp: Connect = async () => {
  throw new Error('this build of porter cannot join XMPP rooms from the browser');
};
