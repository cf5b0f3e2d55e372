/** Bridging shared by the sync and forward hooks: the relay engine, the message map, name-format. */
export { type BridgeTables, bridgeMigrations, type Copies, MessageMap, type Original } from './message-map.js';
export { compileNameFormat, formatName, nameFormatSchema, PLACEHOLDERS } from './name-format.js';
export { Relay, type RelayOptions } from './relay.js';
