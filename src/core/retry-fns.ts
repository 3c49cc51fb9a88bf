/** How delivery to a connected system is retried. Values in milliseconds. */
export interface RetryPolicy {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** After this long since the message was written, stop retrying and dead-letter it. */
  readonly horizonMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  horizonMs: 24 * 60 * 60_000,
};

/**
 * When to try again after the `attempts`-th failure: exponential backoff with full jitter, so that many
 * messages failing together do not retry together. `random` in [0, 1) is passed in; null means dead-letter.
 * @example nextRetryAt({ attempts: 3, createdAt, now, random: 0.5 }, DEFAULT_RETRY_POLICY) // now + 4 s
 */
export function nextRetryAt(
  failure: { attempts: number; createdAt: string; now: string; random: number; isPermanent: boolean },
  policy: RetryPolicy,
): string | null {
  const now = Date.parse(failure.now);
  if (failure.isPermanent || now - Date.parse(failure.createdAt) >= policy.horizonMs) return null;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(failure.attempts, 30));
  const delay = Math.max(policy.baseDelayMs / 10, Math.floor(failure.random * ceiling));
  return new Date(now + delay).toISOString();
}
