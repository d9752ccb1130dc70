/**
 * Why a command was refused. Rejections are values with a stable code (the API maps each code to a
 * problem type); they are the business saying no, not something going wrong.
 */
export const REJECTION_CODES = [
  'UNKNOWN_ACCOUNT',
  'ACCOUNT_EXISTS',
  'ACCOUNT_SUSPENDED',
  'ACCOUNT_CLOSED',
  'ACCOUNT_NOT_SUSPENDED',
  'ACCOUNT_HAS_ACTIVE_CALLS',
  'INVALID_GSTIN',
  'INVALID_STATE_CODE',
  'INVALID_CREDIT_LIMIT',
  'BILLING_MODE_MISMATCH',
  'NOTHING_TO_UPDATE',
  'INVALID_NUMBER',
  'NUMBER_ALREADY_ASSIGNED',
  'NUMBER_NOT_ASSIGNED',
  'NUMBER_IN_USE',
  'PLAN_LIMIT_REACHED',
  'UNKNOWN_PLAN',
  'UNKNOWN_ADD_ON',
  'ADD_ON_NOT_PRESENT',
  'ALREADY_SUBSCRIBED',
  'NO_ACTIVE_SUBSCRIPTION',
  'SUBSCRIPTION_UNPAID',
  'SUBSCRIPTION_CANCELLED',
  'SAME_PLAN',
  'INVALID_START_DATE',
  'INSUFFICIENT_FUNDS',
  'ZERO_AMOUNT',
  'DESTINATION_NOT_RATED',
  'CALL_ALREADY_ENDED',
  'NO_OPEN_RESERVATION',
  'NOTHING_TO_EXTEND',
  'RESERVATION_NOT_EXPIRED',
] as const;

export type RejectionCode = (typeof REJECTION_CODES)[number];

export interface Rejection {
  readonly kind: 'rejection';
  readonly code: RejectionCode;
  readonly message: string;
  /** Values the caller may show or act on (amounts as decimal strings). */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

export function reject(
  code: RejectionCode,
  message: string,
  details?: Readonly<Record<string, string | number | boolean | null>>,
): Rejection {
  return details === undefined ? { kind: 'rejection', code, message } : { kind: 'rejection', code, message, details };
}

export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'rejection';
}
