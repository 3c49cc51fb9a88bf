import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hashApiKey } from '../adapters/api-keys.ts';
import type { Clock, OneTimeCodes, StaffCredentialKit, StaffSession, Store } from '../app/ports.ts';
import { resolveStaffSession, staffActor } from '../app/staff-sign-in.ts';
import { ACCESS_MATRIX, type Action, isAllowed } from '../core/access-matrix.ts';
import type { Actor, Role } from '../core/change-request-types.ts';
import { sendProblem } from './problem.ts';

export interface Principal {
  readonly actor: Actor;
  readonly apiKeyId: string | null;
  readonly role: Role;
  /** For a customer signed in to self-service: the session, and when its sign-in happened. */
  readonly session: { id: string; authenticatedAt: string } | null;
  /** For staff signed in with a browser session (cookie). */
  readonly staffSession: StaffSession | null;
  /** An API key's scopes (actions); null when it may do all its role allows. */
  readonly scopes: readonly string[] | null;
}

/** An authenticated route and the action it performs: the rows of docs/roles.md. */
export interface AccessRoute {
  readonly method: string;
  readonly url: string;
  readonly action: Action;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route under the authenticator, with its action (filled as routes register). */
    accessRoutes: readonly AccessRoute[];
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The action of docs/roles.md this route performs; every authenticated route must name one. */
    action?: Action;
  }
}

export const STAFF_SESSION_COOKIE = 'amend_session';
export const CSRF_COOKIE = 'amend_csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const API_KEY_TOUCH_MS = 60_000;

type Deps = {
  store: Pick<
    Store,
    'findApiKeyByHash' | 'findCustomerSession' | 'findStaffSession' | 'touchStaffSession' | 'touchApiKey'
  >;
  clock: Clock;
  codes: Pick<OneTimeCodes, 'sessionTokenHash'>;
  credentials: Pick<StaffCredentialKit, 'tokenHash'>;
};

const sameSecret = (given: string, expectedHash: string, credentials: Deps['credentials']) => {
  const a = Buffer.from(credentials.tokenHash(given), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
};

async function principalFor(request: FastifyRequest, deps: Deps, lastTouched: Map<string, number>) {
  const header = request.headers.authorization;
  const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : null;
  if (bearer?.startsWith('cst_')) {
    const session = await deps.store.findCustomerSession(
      deps.codes.sessionTokenHash(bearer),
      deps.clock.now().toISOString(),
    );
    return session
      ? {
          actor: { kind: 'customer', id: session.customerId, role: 'customer' } as Actor,
          apiKeyId: null,
          role: 'customer' as Role,
          session: { id: session.id, authenticatedAt: session.authenticatedAt },
          staffSession: null,
          scopes: null,
        }
      : null;
  }
  if (bearer) {
    const record = await deps.store.findApiKeyByHash(hashApiKey(bearer));
    if (!record) return null;
    const now = deps.clock.now().getTime();
    // "Last used" helps spot keys to revoke; written at most once a minute per key and process.
    if (now - (lastTouched.get(record.id) ?? 0) >= API_KEY_TOUCH_MS) {
      lastTouched.set(record.id, now);
      await deps.store.touchApiKey(record.id, new Date(now).toISOString());
    }
    const actor: Actor =
      record.role === 'integration'
        ? { kind: 'integration', id: record.id, role: 'integration' }
        : { kind: 'staff', id: record.staffUserId ?? record.id, role: record.role };
    return {
      actor,
      apiKeyId: record.id,
      role: record.role,
      session: null,
      staffSession: null,
      scopes: record.scopes,
    };
  }
  const cookie = request.cookies[STAFF_SESSION_COOKIE];
  if (!cookie) return null;
  const session = await resolveStaffSession(deps, cookie);
  return session
    ? {
        actor: staffActor(session.user),
        apiKeyId: null,
        role: session.user.role,
        session: null,
        staffSession: session,
        scopes: null,
      }
    : null;
}

/**
 * Authenticates and authorises every request under /api before the route runs: `Authorization: Bearer` with an
 * API key or a customer session token, or a staff session cookie (then a state-changing call must also carry
 * the session's `X-CSRF-Token`). The route's action (config.action) must be allowed to the role by the matrix
 * and, for a scoped key, within its scopes.
 */
export function createAuthenticator(deps: Deps) {
  const lastTouched = new Map<string, number>();
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = await principalFor(request, deps, lastTouched);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer realm="amend"');
      return sendProblem(reply, request, {
        code: 'AUTH.UNAUTHENTICATED',
        message:
          request.headers.authorization || request.cookies[STAFF_SESSION_COOKIE]
            ? 'The API key or session is unknown, revoked or expired; sign in again.'
            : 'Sign in, or send an API key or session token as "Authorization: Bearer <key>".',
      });
    }
    if (principal.staffSession && !SAFE_METHODS.has(request.method)) {
      const given = request.headers['x-csrf-token'];
      if (typeof given !== 'string' || !sameSecret(given, principal.staffSession.csrfHash, deps.credentials))
        return sendProblem(reply, request, {
          code: 'AUTH.CSRF_REJECTED',
          message: `Send the session's CSRF token (answered at sign-in, and in the ${CSRF_COOKIE} cookie) as X-CSRF-Token.`,
        });
    }
    request.principal = principal;
    const action = request.routeOptions.config.action;
    // A route without an action is refused at start-up (see http-server); this only guards the 404 handler.
    if (!action) return;
    if (!isAllowed(principal.role, action, principal.scopes))
      return sendProblem(reply, request, {
        code: 'AUTH.FORBIDDEN',
        message: (ACCESS_MATRIX[action] as readonly Role[]).includes(principal.role)
          ? `This API key is not scoped for "${action}".`
          : `"${action}" needs one of these roles: ${ACCESS_MATRIX[action].join(', ')}.`,
        action,
      });
  };
}
