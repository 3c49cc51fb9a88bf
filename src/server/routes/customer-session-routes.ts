import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { completeCustomerSignIn, startCustomerSignIn } from '../../app/customer-sign-in.ts';
import { ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import { limitPerKey, PUBLIC_RATE_LIMITS, SIGN_IN_CODES_PER_EMAIL } from '../public-rate-limits.ts';
import type { ServerDeps } from '../server-deps.ts';

/** Self-service sign-in, open to anyone: a code to the email on file, then a short session token. */
export function registerCustomerSessionRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/api/v1/customer-sessions',
    {
      config: { rateLimit: PUBLIC_RATE_LIMITS.signInStart },
      // Per email as well as per address: a spread of addresses cannot flood one customer with codes.
      preHandler: limitPerKey(app, {
        ...SIGN_IN_CODES_PER_EMAIL,
        what: 'email address or phone',
        keyOf: (request) => {
          const body = request.body as { email?: string; phone?: string };
          return String(body.email ?? body.phone)
            .trim()
            .toLowerCase();
        },
      }),
      schema: {
        tags: ['self-service'],
        summary:
          'Ask for a sign-in code by email or text to a mobile on file (the same answer whether or not it is a customer’s)',
        security: [],
        body: z.union([
          z.strictObject({ email: z.email().max(254) }),
          z.strictObject({
            phone: z
              .string()
              .regex(/^\+[1-9]\d{6,14}$/, 'Give the mobile number in international form, e.g. +61412345678.'),
          }),
        ]),
        response: {
          202: z.object({ challengeId: z.string(), message: z.string() }),
          400: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const { challengeId } = await startCustomerSignIn(deps, request.body);
      return reply.code(202).send({
        challengeId,
        message: 'If this is on a customer record, a sign-in code is on its way.',
      });
    },
  );

  api.post(
    '/api/v1/customer-sessions/verify',
    {
      config: { rateLimit: PUBLIC_RATE_LIMITS.signInVerify },
      schema: {
        tags: ['self-service'],
        summary:
          'Complete the sign-in with the code; answers a session token (send it as Authorization: Bearer)',
        security: [],
        body: z.strictObject({
          challengeId: z.uuid(),
          code: z.string().regex(/^\s*\d{6}\s*$/, 'The code has 6 digits.'),
        }),
        response: {
          201: z.object({ token: z.string(), expiresAt: z.string(), customerId: z.string() }),
          400: ProblemSchema,
          409: ProblemSchema,
          422: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await completeCustomerSignIn(deps, request.body.challengeId, request.body.code);
      if (!result.ok) {
        if (typeof result.error.retryAfterSeconds === 'number')
          reply.header('retry-after', String(result.error.retryAfterSeconds));
        return sendProblem(reply, request, result.error);
      }
      if (!result.value.token)
        return sendProblem(reply, request, { code: 'OTP.WRONG_CODE', message: 'That code is not right.' });
      return reply.code(201).send(result.value);
    },
  );
}
