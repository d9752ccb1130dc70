/** Bodies and responses of /api/v1/auth, /api/v1/users and /api/v1/audit/security. */
import Type from 'typebox';
import { BillingAddress, Gstin, Text } from '../common.ts';

const strict = { additionalProperties: false } as const;
const Email = Type.String({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const Device = Type.Optional(
  Type.String({ maxLength: 100, description: 'A client-chosen device id (for the session list)' }),
);

export const RegisterBody = Type.Object(
  {
    email: Email,
    password: Password,
    name: Text(120),
    phone: Type.String({ pattern: '^\\+?[0-9 -]{6,20}$' }),
    account: Type.Object(
      {
        legalName: Text(200),
        billingAddress: BillingAddress,
        gstin: Type.Optional(Gstin),
        billingMode: Type.Optional(Type.Literal('prepaid')),
      },
      strict,
    ),
    deviceId: Device,
  },
  { ...strict, $id: 'RegisterBody' },
);

export const Tokens = Type.Object(
  {
    accessToken: Type.String(),
    refreshToken: Type.String(),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'Seconds the access token is valid' }),
    refreshExpiresAt: Type.String({ format: 'date-time' }),
    sessionId: Type.String(),
  },
  { ...strict, $id: 'Tokens' },
);

export const Registered = Type.Object({ userId: Type.String(), accountId: Type.String(), tokens: Tokens }, strict);

export const LoginBody = Type.Object(
  {
    email: Type.Optional(Email),
    password: Type.Optional(Password),
    /** A TOTP code or a recovery code, when MFA is on. */
    totp: Type.Optional(Type.String({ maxLength: 64 })),
    /** The second step: the challenge token a first login answered with, plus `totp`. */
    challengeToken: Type.Optional(Type.String({ maxLength: 4096 })),
    deviceId: Device,
  },
  { ...strict, $id: 'LoginBody' },
);

export const LoginResponse = Type.Union(
  [
    Type.Object({ status: Type.Literal('authenticated'), ...Tokens.properties }, strict),
    Type.Object(
      {
        status: Type.Literal('mfa-required'),
        challengeToken: Type.String(),
        challengeExpiresAt: Type.String({ format: 'date-time' }),
      },
      strict,
    ),
  ],
  { $id: 'LoginResponse' },
);

export const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 512 }), deviceId: Device },
  { ...strict, $id: 'RefreshBody' },
);

export const MfaSetup = Type.Object(
  { secret: Type.String(), otpauthUri: Type.String(), qrCodeDataUrl: Type.String() },
  strict,
);
export const VerifyMfaBody = Type.Object(
  { code: Type.String({ minLength: 6, maxLength: 64 }) },
  { ...strict, $id: 'VerifyMfaBody' },
);
export const RecoveryCodes = Type.Object({ recoveryCodes: Type.Array(Type.String()) }, strict);
/** A second factor for turning MFA off or replacing the recovery codes: a TOTP code or a recovery code. */
export const SecondFactorBody = Type.Object(
  { code: Type.String({ minLength: 6, maxLength: 64 }), deviceId: Device },
  { ...strict, $id: 'SecondFactorBody' },
);
export const ChangePasswordBody = Type.Object(
  { currentPassword: Password, newPassword: Password, deviceId: Device },
  { ...strict, $id: 'ChangePasswordBody' },
);
export const ResetMfaBody = Type.Object({ reason: Text(500) }, { ...strict, $id: 'ResetMfaBody' });

export const SessionItem = Type.Object(
  {
    sessionId: Type.String(),
    status: Type.String(),
    current: Type.Boolean(),
    startedAt: Type.String(),
    lastSeenAt: Type.String(),
    device: Type.Record(Type.String(), Type.Unknown()),
  },
  strict,
);
export const SessionList = Type.Object({ items: Type.Array(SessionItem) }, strict);

export const CreateUserBody = Type.Object(
  {
    email: Email,
    password: Password,
    name: Text(120),
    phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9 -]{6,20}$' })),
    role: Type.Union([Type.Literal('admin'), Type.Literal('auditor'), Type.Literal('finance'), Type.Literal('system')]),
  },
  { ...strict, $id: 'CreateUserBody' },
);
export const UserCreated = Type.Object({ userId: Type.String() }, strict);
export const UserIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, strict);
export const SessionIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }, strict);
export const Done = Type.Object({ ok: Type.Literal(true) }, strict);

export const SecurityQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ format: 'uuid' })),
    limit: Type.Optional(Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|200)$' })),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
  },
  strict,
);
export const SecurityEvents = Type.Object(
  {
    items: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  },
  strict,
);
