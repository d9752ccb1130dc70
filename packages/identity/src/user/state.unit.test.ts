import type { DeviceFingerprint, UserEvent } from '@khata/schemas';
import { describe, expect, it } from 'vitest';
import { ENDED_SESSIONS_KEPT_MAX, evolveUser, InvariantViolation, initialUserState, type UserState } from './state.ts';

const T0 = Date.parse('2026-11-02T04:30:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1_000).toISOString();
const DEVICE: DeviceFingerprint = { userAgent: 'test', ipPrefix: null, clientDeviceId: null };
const sessionId = (index: number) => `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;

function fold(events: readonly UserEvent[]): UserState {
  return events.reduce(evolveUser, initialUserState());
}

const registeredEvent: UserEvent = {
  type: 'UserRegistered',
  data: {
    userId: sessionId(9_999),
    email: 'a@example.com',
    emailNormalized: 'a@example.com',
    name: 'A',
    phone: null,
    role: 'admin',
    accountId: null,
    passwordHash: `$scrypt$ln=10,r=8,p=1$${'A'.repeat(22)}$${'B'.repeat(43)}`,
    registeredAt: at(0),
  },
};

const started = (index: number, seconds: number): UserEvent => ({
  type: 'SessionStarted',
  data: {
    sessionId: sessionId(index),
    refreshTokenHash: 'a'.repeat(64),
    refreshExpiresAt: at(seconds + 60),
    endsAt: at(seconds + 120),
    device: DEVICE,
    at: at(seconds),
  },
});

describe('user state', () => {
  it('stops replay on events that cannot follow the state (a bug, or tampering)', () => {
    expect(() => fold([started(1, 0)])).toThrow(InvariantViolation);
    expect(() => fold([registeredEvent, registeredEvent])).toThrow(InvariantViolation);
    expect(() =>
      fold([
        registeredEvent,
        {
          type: 'SessionRefreshed',
          data: {
            sessionId: sessionId(1),
            refreshTokenHash: 'b'.repeat(64),
            refreshExpiresAt: at(9),
            device: null,
            at: at(1),
          },
        },
      ]),
    ).toThrow(InvariantViolation);
    expect(() =>
      fold([
        registeredEvent,
        { type: 'RecoveryCodeUsed', data: { codeHash: 'c'.repeat(64), remaining: 0, at: at(1) } },
      ]),
    ).toThrow(InvariantViolation);
  });

  it(`keeps open sessions and only the ${ENDED_SESSIONS_KEPT_MAX} newest ended ones`, () => {
    // Each session ends 120 s after it starts; one starts every 200 s, so all earlier ones have ended.
    const sessions = Array.from({ length: ENDED_SESSIONS_KEPT_MAX + 5 }, (_, index) => started(index, index * 200));
    const state = fold([registeredEvent, ...sessions]);
    expect(state.sessions.size).toBe(ENDED_SESSIONS_KEPT_MAX + 1);
    expect(state.sessions.has(sessionId(0))).toBe(false);
    expect(state.sessions.has(sessionId(ENDED_SESSIONS_KEPT_MAX + 4))).toBe(true);
  });
});
