// The store service as the host and features import it: `../services/store/index.js`.
export { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, Store, type StoreOptions } from './store.js';
export { ACCEPTED_FORMS, describeStore, parseStoreUrl, type StoreLocation } from './url.js';
