/**
 * The error the calendar engine throws for a message it cannot accept, carrying the RFC 5546
 * REQUEST-STATUS a reply to its sender should carry.
 */
import type { RequestStatus } from '../model.js';

/** RFC 5546 §3.6 statuses the engine answers with. */
export const STATUS = {
  invalidValue: { code: '3.1', text: 'Invalid property value' },
  invalidParameterValue: { code: '3.3', text: 'Invalid property parameter value' },
  invalidSequence: { code: '3.4', text: 'Invalid calendar component sequence' },
  invalidDate: { code: '3.5', text: 'Invalid date or time' },
  invalidRule: { code: '3.6', text: 'Invalid rule' },
  invalidUser: { code: '3.7', text: 'Invalid calendar user' },
  tooLarge: { code: '3.10', text: 'Request entity too large' },
  missing: { code: '3.11', text: 'Required component or property missing' },
  unsupportedCapability: { code: '3.14', text: 'Unsupported capability' },
} as const satisfies Record<string, RequestStatus>;

export class CalendarError extends Error {
  readonly status: RequestStatus;

  constructor(status: RequestStatus, detail: string) {
    super(`${status.code} ${status.text}: ${detail}`);
    this.name = 'CalendarError';
    this.status = status;
  }
}
