import type { RejectionCode } from '@khata/domain';

/** RFC 9457 problem details, as every error response of the API is written. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code?: string;
  errors?: { pointer: string; message: string }[];
  details?: Record<string, string | number | boolean | null>;
  requestId?: string;
}

const BASE = 'https://khata.dev/problems/';

export function problemType(code: string): string {
  return `${BASE}${code.toLowerCase().replaceAll('_', '-')}`;
}

export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly extra: Pick<ProblemBody, 'errors' | 'details'>;

  constructor(
    status: number,
    code: string,
    title: string,
    detail?: string,
    extra: Pick<ProblemBody, 'errors' | 'details'> = {},
  ) {
    super(detail ?? title);
    this.status = status;
    this.code = code;
    this.title = title;
    this.extra = extra;
  }
}

export const notFound = (what = 'resource') => new ApiProblem(404, 'NOT_FOUND', 'Not found', `no such ${what}`);
export const forbidden = () => new ApiProblem(403, 'FORBIDDEN', 'Forbidden', 'your role may not do this');

/** HTTP status of each domain rejection: the business saying no is a 4xx, never a 5xx. */
const REJECTION_STATUS: { readonly [C in RejectionCode]: number } = {
  UNKNOWN_ACCOUNT: 404,
  ACCOUNT_EXISTS: 409,
  ACCOUNT_SUSPENDED: 409,
  ACCOUNT_CLOSED: 409,
  ACCOUNT_NOT_SUSPENDED: 409,
  ACCOUNT_HAS_ACTIVE_CALLS: 409,
  INVALID_GSTIN: 422,
  INVALID_STATE_CODE: 422,
  INVALID_CREDIT_LIMIT: 422,
  BILLING_MODE_MISMATCH: 409,
  NOTHING_TO_UPDATE: 422,
  INVALID_NUMBER: 422,
  NUMBER_ALREADY_ASSIGNED: 409,
  NUMBER_NOT_ASSIGNED: 404,
  NUMBER_IN_USE: 409,
  PLAN_LIMIT_REACHED: 409,
  UNKNOWN_PLAN: 422,
  UNKNOWN_ADD_ON: 422,
  ADD_ON_NOT_PRESENT: 409,
  ALREADY_SUBSCRIBED: 409,
  NO_ACTIVE_SUBSCRIPTION: 409,
  SUBSCRIPTION_UNPAID: 402,
  SUBSCRIPTION_CANCELLED: 409,
  SAME_PLAN: 409,
  INVALID_START_DATE: 422,
  INSUFFICIENT_FUNDS: 402,
  ZERO_AMOUNT: 422,
  DESTINATION_NOT_RATED: 422,
  CALL_ALREADY_ENDED: 409,
  NO_OPEN_RESERVATION: 404,
  NOTHING_TO_EXTEND: 409,
  RESERVATION_NOT_EXPIRED: 409,
};

export function rejectionStatus(code: RejectionCode): number {
  return REJECTION_STATUS[code];
}

/** A title for a code: `INSUFFICIENT_FUNDS` → `Insufficient funds`. */
export function titleOf(code: string): string {
  const words = code.toLowerCase().replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
