/**
 * The password strength estimator's dictionaries are dropped when unused. In a file of its own: the module's
 * sweep timer must be created under the fake clock, by this file's first check.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkPasswordPolicy, PASSWORD_ESTIMATOR_IDLE_MS, passwordEstimatorLoaded } from './passwords.ts';

describe('password strength estimator', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is dropped once unused for its idle period, and built again for the next check', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    expect(checkPasswordPolicy('password1234', [])).toMatchObject({ code: 'WEAK_PASSWORD' });
    expect(passwordEstimatorLoaded()).toBe(true);
    // Still in use halfway through: kept.
    vi.advanceTimersByTime(PASSWORD_ESTIMATOR_IDLE_MS / 2);
    expect(checkPasswordPolicy('qwertyuiop12', [])).toMatchObject({ code: 'WEAK_PASSWORD' });
    vi.advanceTimersByTime(PASSWORD_ESTIMATOR_IDLE_MS / 2);
    expect(passwordEstimatorLoaded()).toBe(true);
    vi.advanceTimersByTime(PASSWORD_ESTIMATOR_IDLE_MS);
    expect(passwordEstimatorLoaded()).toBe(false);
    expect(checkPasswordPolicy('correct horse battery staple', [])).toBeNull();
    expect(checkPasswordPolicy('iloveyou2024', [])).toMatchObject({ code: 'WEAK_PASSWORD' });
    expect(passwordEstimatorLoaded()).toBe(true);
  });
});
