// The mailbox server as the rest of porter imports it.
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  MailboxError,
  Mailboxes,
  type MailboxesOptions,
  MailboxSnapshot,
  type MessageInfo,
} from './mailboxes.js';
export { dotStuff, head, MessageFormatError, toCrlf } from './message.js';
