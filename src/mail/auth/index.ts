// The auth server as the rest of porter imports it.
export { type CommandResult, runUserCommand, USER_USAGE, type UserCommandIo } from './command.js';
export { isUserName, normaliseUserName, UserNameError } from './names.js';
export {
  ARGON2_PARAMS,
  argon2idHasher,
  MAX_PASSWORD_LENGTH,
  type MailUser,
  MailUserError,
  MailUsers,
  type MailUsersOptions,
  type MailUserTables,
  type PasswordHasher,
} from './users.js';
