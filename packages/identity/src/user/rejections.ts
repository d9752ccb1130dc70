/**
 * Why an identity command was refused. Same shape as the account rejections (`kind: 'rejection'`, a
 * stable `code`): the API maps each code to a problem type; the message is safe to show.
 */
export const IDENTITY_REJECTION_CODES = [
  'UNKNOWN_USER',
  'USER_EXISTS',
  'EMAIL_TAKEN',
  'INVALID_ROLE',
  'INVALID_CREDENTIALS',
  'ACCOUNT_LOCKED',
  'NOT_LOCKED',
  'PASSWORD_TOO_SHORT',
  'PASSWORD_TOO_LONG',
  'WEAK_PASSWORD',
  'MFA_REQUIRED',
  'MFA_CHALLENGE_INVALID',
  'INVALID_MFA_CODE',
  'MFA_ALREADY_ENABLED',
  'MFA_NOT_ENABLED',
  'MFA_SETUP_NOT_STARTED',
  'MFA_SETUP_EXPIRED',
  'INVALID_REFRESH_TOKEN',
  'REFRESH_TOKEN_REUSED',
  'SESSION_REVOKED',
  'SESSION_EXPIRED',
  'UNKNOWN_SESSION',
  'INVALID_TOKEN',
] as const;

export type IdentityRejectionCode = (typeof IDENTITY_REJECTION_CODES)[number];

export interface IdentityRejection {
  readonly kind: 'rejection';
  readonly code: IdentityRejectionCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

export function rejectIdentity(
  code: IdentityRejectionCode,
  message: string,
  details?: Readonly<Record<string, string | number | boolean | null>>,
): IdentityRejection {
  return details === undefined ? { kind: 'rejection', code, message } : { kind: 'rejection', code, message, details };
}

export function isIdentityRejection(value: unknown): value is IdentityRejection {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'rejection';
}

/**
 * The one answer for "no such user" and "wrong password" alike, so the response tells an attacker
 * nothing about which addresses are registered.
 */
export const INVALID_CREDENTIALS: IdentityRejection = rejectIdentity(
  'INVALID_CREDENTIALS',
  'the e-mail address or the password is wrong',
);
