/** The IPC layer of the mail servers: wire format, server, client, queue alerts. */
export { formatAddress, type IpcAddress, parseAddress } from './address.js';
export { AlertListener, type AlertListenerOptions, AlertSender, type AlertSenderOptions } from './alerts.js';
export { IpcClient, type IpcClientOptions, IpcConnectionError, type IpcOkReply } from './client.js';
export {
  DEFAULT_LIMITS,
  decodeField,
  decodeParam,
  encodeField,
  encodeParam,
  encodeReply,
  encodeRequest,
  formatLine,
  type IpcLimits,
  IpcProtocolError,
  type MessageShape,
  parseLine,
  ReplyParser,
  RequestParser,
  SHAPES,
} from './codec.js';
export { expectParams } from './params.js';
export { IpcServer, type IpcServerOptions, mergeHandlers } from './server.js';
