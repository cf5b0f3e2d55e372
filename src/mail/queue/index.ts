// The mail queue server: MailQueue and its IPC handlers.
export { type AlertFunction, queueHandlers } from './handlers.js';
export { MailQueue, type MailQueueOptions, type Popped, type QueueListener, type QueueStats, validQueueName } from './queue.js';
