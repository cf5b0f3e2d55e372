// The SMTP-out server: SmtpSender, its spool, MX resolution and DSN bounces.

export {
  type ClientErrorKind,
  dataBytes,
  type Reply,
  SmtpClientError,
  type SmtpClientOptions,
  SmtpConnection,
  type TransactionOptions,
  type TransactionResult,
} from './client.js';
export { type BounceInput, buildBounce, enhancedStatus, type FailedRecipient, headerSection } from './dsn.js';
export { type MxResolver, type MxTarget, RouteError, resolveTargets } from './mx.js';
export { ConnectionPool } from './pool.js';
export {
  type DeliveryEvent,
  type DkimOptions,
  normaliseAddress,
  type OutgoingQueue,
  type QueuedMessage,
  type SmarthostOptions,
  SmtpSender,
  type SmtpSenderOptions,
} from './sender.js';
export { type DeliveryRecord, isSpoolId, type RecipientRecord, type RecipientState, Spool } from './spool.js';
