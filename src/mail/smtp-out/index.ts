// The SMTP-out server: SmtpSender, its spool, MX resolution and DSN bounces.
export { type BounceInput, buildBounce, enhancedStatus, type FailedRecipient, headerSection } from './dsn.js';
export { type MxResolver, type MxTarget, RouteError, resolveTargets } from './mx.js';
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
export { type DeliveryRecord, type RecipientRecord, type RecipientState, Spool } from './spool.js';
