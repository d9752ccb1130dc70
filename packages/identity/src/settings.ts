import type { KhataConfig } from '@khata/config';
import {
  ACCESS_TOKEN_SECONDS_DEFAULT,
  CLOCK_TOLERANCE_SECONDS_DEFAULT,
  MFA_CHALLENGE_SECONDS_DEFAULT,
  type TokenSettings,
} from './tokens.ts';
import { SESSION_LIFETIME_SECONDS_DEFAULT, type UserRules, userRules } from './user/rules.ts';

export interface IdentitySettings extends TokenSettings {
  readonly rules: UserRules;
  /** The name authenticator apps show beside the account. */
  readonly totpIssuer: string;
}

export const DEFAULT_IDENTITY_SETTINGS: IdentitySettings = {
  issuer: 'khata',
  audience: 'khata-api',
  accessTokenSeconds: ACCESS_TOKEN_SECONDS_DEFAULT,
  mfaChallengeSeconds: MFA_CHALLENGE_SECONDS_DEFAULT,
  clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS_DEFAULT,
  rules: userRules(),
  totpIssuer: 'Khata',
};

/** The identity settings Khata's configuration asks for (JWT_*, LOCKOUT_*). */
export function identitySettingsFromConfig(config: KhataConfig): IdentitySettings {
  return {
    ...DEFAULT_IDENTITY_SETTINGS,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTokenSeconds: config.jwt.accessExpirySeconds,
    rules: userRules({
      refreshTokenSeconds: config.jwt.refreshExpirySeconds,
      sessionLifetimeSeconds: Math.max(SESSION_LIFETIME_SECONDS_DEFAULT, config.jwt.refreshExpirySeconds),
      lockout: config.lockout,
    }),
  };
}
