// The POP3 server as the rest of porter imports it.
export { type Pop3Authenticator, Pop3Server, type Pop3ServerOptions } from './server.js';
