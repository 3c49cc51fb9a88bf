/**
 * Staff sign-in rules (OWASP ASVS 2.2, 3.3): lockout with back-off, idle and absolute session limits, and
 * what a password must be. Pure, so the numbers are tested without a clock or a database.
 */
export const STAFF_SESSION = {
  idleMinutes: 30,
  absoluteHours: 12,
  /** last_seen_at is written at most this often, so reads do not each cost a write. */
  touchEverySeconds: 60,
} as const;

export const STAFF_LOCKOUT = {
  /** Failures allowed before the first lock. */
  freeFailures: 5,
  firstLockSeconds: 60,
  maxLockSeconds: 3600,
} as const;

/** After the free failures, each further failure doubles the lock: 1, 2, 4 … minutes, at most an hour. */
export function lockedUntilAfterFailures(failures: number, now: Date): string | null {
  if (failures < STAFF_LOCKOUT.freeFailures) return null;
  const seconds = Math.min(
    STAFF_LOCKOUT.firstLockSeconds * 2 ** (failures - STAFF_LOCKOUT.freeFailures),
    STAFF_LOCKOUT.maxLockSeconds,
  );
  return new Date(now.getTime() + seconds * 1000).toISOString();
}

/** A session is live until it has been idle too long or reaches its absolute end, whichever is first. */
export function isStaffSessionLive(
  session: { lastSeenAt: string; absoluteExpiresAt: string },
  now: Date,
): boolean {
  const idleEnd = Date.parse(session.lastSeenAt) + STAFF_SESSION.idleMinutes * 60_000;
  return now.getTime() < idleEnd && now.getTime() < Date.parse(session.absoluteExpiresAt);
}

export const shouldTouchStaffSession = (lastSeenAt: string, now: Date): boolean =>
  now.getTime() - Date.parse(lastSeenAt) >= STAFF_SESSION.touchEverySeconds * 1000;

/**
 * ASVS 2.1: at least 12 characters, at most 128, any characters (spaces and Unicode welcome), and not the
 * account's own email. Answers the problem, or null when the password is acceptable.
 */
export function passwordProblem(password: string, email: string): string | null {
  const length = [...password].length;
  if (length < 12) return 'Use at least 12 characters; a passphrase of several words is easy to remember.';
  if (length > 128) return 'Use at most 128 characters.';
  if (password.trim().toLowerCase() === email.toLowerCase()) return 'Do not use your email address.';
  return null;
}
