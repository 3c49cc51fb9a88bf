import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { changeStaffPassword, signInStaff, signOutStaff } from '../../app/staff-sign-in.ts';
import { STAFF_SESSION } from '../../core/staff-session-fns.ts';
import { ProblemSchema } from '../api-schemas.ts';
import { CSRF_COOKIE, STAFF_SESSION_COOKIE } from '../auth.ts';
import { sendProblem } from '../problem.ts';
import { PUBLIC_RATE_LIMITS } from '../public-rate-limits.ts';
import type { ServerDeps } from '../server-deps.ts';

const StaffUserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    displayName: z.string(),
    role: z.string(),
  })
  .meta({ id: 'StaffUser' });

const SessionViewSchema = z.object({
  user: StaffUserSchema,
  idleMinutes: z.number(),
  absoluteExpiresAt: z.string(),
});

const cookieOptions = (request: FastifyRequest, deps: ServerDeps) => ({
  path: '/',
  secure: deps.secureCookies === 'always' || request.protocol === 'https',
});

function clearSessionCookies(request: FastifyRequest, reply: FastifyReply, deps: ServerDeps) {
  reply.clearCookie(STAFF_SESSION_COOKIE, cookieOptions(request, deps));
  reply.clearCookie(CSRF_COOKIE, cookieOptions(request, deps));
}

/** Staff sign-in, open to anyone (limited per address, and per account by lockout). */
export function registerStaffSignInRoute(app: FastifyInstance, deps: ServerDeps): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/v1/staff-sessions',
    {
      config: { rateLimit: PUBLIC_RATE_LIMITS.staffSignIn },
      schema: {
        tags: ['staff sign-in'],
        summary: 'Sign in as staff: email, password and TOTP code; sets the session cookie',
        description: `Answers the CSRF token to send as X-CSRF-Token with every state-changing call (also set in the readable ${CSRF_COOKIE} cookie). The session cookie (${STAFF_SESSION_COOKIE}) is HttpOnly, SameSite=Lax, and Secure over HTTPS; the session ends after 30 idle minutes or 12 hours.`,
        security: [],
        body: z.strictObject({
          email: z.email().max(254),
          password: z.string().min(1).max(1024),
          code: z.string().regex(/^\s*\d{6}\s*$/, 'The code from the authenticator app has 6 digits.'),
        }),
        response: {
          201: SessionViewSchema.extend({ csrfToken: z.string() }),
          400: ProblemSchema,
          401: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await signInStaff(deps, { ...request.body, address: request.ip });
      if (!result.ok) {
        const retryAfter = result.error.retryAfterSeconds;
        if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
        return sendProblem(reply, request, result.error);
      }
      const { token, csrfToken, ...view } = result.value;
      const maxAge = Math.floor((Date.parse(view.absoluteExpiresAt) - deps.clock.now().getTime()) / 1000);
      reply.setCookie(STAFF_SESSION_COOKIE, token, {
        ...cookieOptions(request, deps),
        httpOnly: true,
        sameSite: 'lax',
        maxAge,
      });
      reply.setCookie(CSRF_COOKIE, csrfToken, {
        ...cookieOptions(request, deps),
        sameSite: 'strict',
        maxAge,
      });
      return reply.code(201).send({ ...view, csrfToken });
    },
  );
}

/** The signed-in staff member's own session: who am I, sign out, sign out everywhere, change password. */
export function registerStaffSessionRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const problems = { 401: ProblemSchema, 403: ProblemSchema };
  const sessionOf = (request: FastifyRequest, reply: FastifyReply) => {
    const session = request.principal?.staffSession;
    if (!session)
      sendProblem(reply, request, {
        code: 'AUTH.FORBIDDEN',
        message: 'This needs a staff session (sign in at POST /api/v1/staff-sessions), not an API key.',
      });
    return session ?? null;
  };

  api.get(
    '/api/v1/staff-session',
    {
      config: { action: 'staff_session.own' },
      schema: {
        tags: ['staff sign-in'],
        summary: 'The current staff session',
        response: { 200: SessionViewSchema, ...problems },
      },
    },
    async (request, reply) => {
      const session = sessionOf(request, reply);
      if (!session) return reply;
      return {
        user: session.user,
        idleMinutes: STAFF_SESSION.idleMinutes,
        absoluteExpiresAt: session.absoluteExpiresAt,
      };
    },
  );

  for (const [path, everywhere, summary] of [
    ['/api/v1/staff-session', false, 'Sign out of this session'],
    ['/api/v1/staff-sessions', true, 'Sign out everywhere: end every session of the signed-in staff member'],
  ] as const) {
    api.delete(
      path,
      {
        config: { action: 'staff_session.own' },
        schema: {
          tags: ['staff sign-in'],
          summary,
          response: { 200: z.object({ sessionsEnded: z.number() }), ...problems },
        },
      },
      async (request, reply) => {
        const session = sessionOf(request, reply);
        if (!session) return reply;
        const ended = await signOutStaff(deps, session, everywhere);
        clearSessionCookies(request, reply, deps);
        return { sessionsEnded: ended };
      },
    );
  }

  api.post(
    '/api/v1/staff-session/password',
    {
      config: { action: 'staff_session.own' },
      schema: {
        tags: ['staff sign-in'],
        summary: 'Change your password (12 to 128 characters); your other sessions end',
        body: z.strictObject({
          currentPassword: z.string().min(1).max(1024),
          newPassword: z.string().min(1).max(1024),
        }),
        response: { 200: z.object({ otherSessionsEnded: z.number() }), 400: ProblemSchema, ...problems },
      },
    },
    async (request, reply) => {
      const session = sessionOf(request, reply);
      if (!session) return reply;
      const result = await changeStaffPassword(deps, session, request.body);
      return result.ok ? result.value : sendProblem(reply, request, result.error);
    },
  );
}
