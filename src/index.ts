/**
 * porter's public API: what third-party plugs and hooks are written against.
 * `import { Plug, Hook, RichText } from 'porter'`.
 */

export { z } from 'zod';
export { Channel } from './core/channel.js';
export {
  Component,
  type ComponentClass,
  type ComponentInit,
  type ConfigRefs,
  type ConfigSchemaFactory,
  type Migrations,
} from './core/component.js';
export { loadConfig, type ResolvedConfig, resolveConfig } from './core/config/index.js';
export {
  ConfigError,
  type ConfigProblem,
  ERROR_CODES,
  type ErrorCode,
  formatProblem,
  HookError,
  ModuleError,
  PlugError,
  PorterError,
  StateError,
  StoreError,
  TimeoutError,
  UnsupportedError,
} from './core/errors.js';
export { Group } from './core/group.js';
export { Hook, type HookClass, type HookInit } from './core/hook.js';
export { Host, type HostOptions, type HostStatus, type Services } from './core/host.js';
export { type Logger, Logging } from './core/log.js';
export {
  type Attachment,
  displayName,
  escapeHtml,
  type Message,
  type Receipt,
  RichText,
  renderPlain,
  type Segment,
  type SentMessage,
  type User,
} from './core/message.js';
export { Openable, OpenState } from './core/openable.js';
export { NO_CAPABILITIES, Plug, type PlugCapabilities, type PlugClass } from './core/plug.js';
export {
  isRoomsCapable,
  leftCleanly,
  type RejoinOutcome,
  type RoomOccupant,
  type RoomOptions,
  type RoomsCapable,
  type RoomUser,
} from './core/rooms.js';
export type { Bus, BusHandler } from './services/bus/index.js';
export type { HttpService } from './services/http/index.js';
export type { Store } from './services/store/index.js';
