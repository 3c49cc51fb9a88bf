/**
 * Per-address limits on the endpoints anyone can call. Generous enough for an office behind one address,
 * tight enough that guessing a 6-digit code or a link token by brute force is hopeless.
 */
export const PUBLIC_RATE_LIMITS = {
  /** Asking for a sign-in code: each one sends an email, so this also caps mail sent to a victim. */
  signInStart: { max: 10, timeWindow: '15 minutes' },
  signInVerify: { max: 20, timeWindow: '15 minutes' },
  notMe: { max: 30, timeWindow: '15 minutes' },
} as const;
