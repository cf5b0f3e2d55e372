// The SMTP receiver (SMTP, submission and LMTP in) as the rest of porter imports it.
export {
  isLoopbackHost,
  LISTENER_MODES,
  type ListenAddress,
  type ListenerConfig,
  type ListenerMode,
  listenerSchema,
  parseListenAddress,
  type SmtpInConfig,
  type SmtpInConfigInput,
  smtpInConfigSchema,
} from './config.js';
export {
  type Envelope,
  EnvelopeError,
  type EnvelopeRecipient,
  formatEnvelope,
  parseEnvelope,
  parseSpooled,
  readSpooled,
} from './envelope.js';
export { MessageFilter, type MessageFilterOptions, type MessageProblem } from './filter.js';
export {
  type BoundListener,
  INCOMING_QUEUE,
  OUTGOING_QUEUE,
  SmtpReceiver,
  type SmtpReceiverOptions,
  type Spool,
  type Users,
} from './receiver.js';
