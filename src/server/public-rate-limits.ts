import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from './problem.ts';

/**
 * Per-address limits on the endpoints anyone can call. Generous enough for an office behind one address,
 * tight enough that guessing a 6-digit code or a link token by brute force is hopeless.
 */
export const PUBLIC_RATE_LIMITS = {
  /** Asking for a sign-in code: each one sends an email, so this also caps mail sent to a victim. */
  signInStart: { max: 10, timeWindow: '15 minutes' },
  signInVerify: { max: 20, timeWindow: '15 minutes' },
  notMe: { max: 30, timeWindow: '15 minutes' },
  /** Staff sign-in; each account also locks itself after five failures, whatever the address. */
  staffSignIn: { max: 10, timeWindow: '15 minutes' },
} as const;

/** Codes asked for one email address (one customer), whatever the address they come from. */
export const SIGN_IN_CODES_PER_EMAIL = { max: 5, timeWindow: '15 minutes' } as const;

/**
 * Limits on submitting change requests, set per deployment (AMEND_SUBMISSIONS_PER_MINUTE_PER_ADDRESS,
 * AMEND_SUBMISSIONS_PER_HOUR_PER_CUSTOMER): a contact centre sits behind one address, so that limit is high;
 * no honest customer needs dozens of changes an hour.
 */
export interface SubmissionLimits {
  readonly perMinutePerAddress: number;
  readonly perHourPerCustomer: number;
}

export const DEFAULT_SUBMISSION_LIMITS: SubmissionLimits = {
  perMinutePerAddress: 600,
  perHourPerCustomer: 30,
};

/**
 * A second limit on a route, counted by a key taken from the request (a customer, an email), on top of the
 * route's per-address limit. The plugin runs one limit per request, so this one answers the 429 itself.
 */
export function limitPerKey(
  app: FastifyInstance,
  options: { max: number; timeWindow: string; what: string; keyOf: (request: FastifyRequest) => string },
) {
  const limiter = app.createRateLimit({
    max: options.max,
    timeWindow: options.timeWindow,
    keyGenerator: (request) => `${options.what}:${options.keyOf(request)}`,
  });
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const outcome = await limiter(request);
    if (outcome.isAllowed || !outcome.isExceeded) return;
    reply.header('retry-after', String(outcome.ttlInSeconds));
    return sendProblem(reply, request, {
      code: 'REQUEST.RATE_LIMITED',
      message: `Too many requests for this ${options.what}; try again in ${outcome.ttlInSeconds} seconds.`,
    });
  };
}
