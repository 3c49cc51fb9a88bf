import { describe, expect, it } from 'vitest';
import { isStaffSessionLive, lockedUntilAfterFailures, passwordProblem } from './staff-session-fns.ts';

const now = new Date('2026-11-23T10:00:00.000Z');

describe('staff sign-in rules', () => {
  it('locks after five failures, doubling up to an hour', () => {
    expect(lockedUntilAfterFailures(4, now)).toBeNull();
    expect(lockedUntilAfterFailures(5, now)).toBe('2026-11-23T10:01:00.000Z');
    expect(lockedUntilAfterFailures(6, now)).toBe('2026-11-23T10:02:00.000Z');
    expect(lockedUntilAfterFailures(8, now)).toBe('2026-11-23T10:08:00.000Z');
    expect(lockedUntilAfterFailures(40, now)).toBe('2026-11-23T11:00:00.000Z');
  });

  it('ends a session when idle for 30 minutes or 12 hours after sign-in', () => {
    const absoluteExpiresAt = '2026-11-23T20:00:00.000Z';
    expect(isStaffSessionLive({ lastSeenAt: '2026-11-23T09:31:00.000Z', absoluteExpiresAt }, now)).toBe(true);
    expect(isStaffSessionLive({ lastSeenAt: '2026-11-23T09:30:00.000Z', absoluteExpiresAt }, now)).toBe(
      false,
    );
    expect(
      isStaffSessionLive(
        { lastSeenAt: '2026-11-23T09:59:00.000Z', absoluteExpiresAt: '2026-11-23T10:00:00.000Z' },
        now,
      ),
    ).toBe(false);
  });

  it('asks for 12 to 128 characters that are not the email', () => {
    expect(passwordProblem('short', 'a@b.co')).toMatch(/12 characters/);
    expect(passwordProblem('x'.repeat(129), 'a@b.co')).toMatch(/128/);
    expect(passwordProblem('Lee@Example.com12', 'lee@example.com12')).toMatch(/email/);
    expect(passwordProblem('correct horse battery staple', 'a@b.co')).toBeNull();
    // Length counts characters, not UTF-16 units.
    expect(passwordProblem('🔑'.repeat(12), 'a@b.co')).toBeNull();
  });
});
