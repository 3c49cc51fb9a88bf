import type { FastifyReply, FastifyRequest } from 'fastify';
import { hashApiKey } from '../adapters/api-keys.ts';
import type { Clock, OneTimeCodes, Store } from '../app/ports.ts';
import type { Actor, Role } from '../core/change-request-types.ts';
import { sendProblem } from './problem.ts';

export interface Principal {
  readonly actor: Actor;
  readonly apiKeyId: string | null;
  readonly role: Role;
  /** For a customer signed in to self-service: the session, and when its sign-in happened. */
  readonly session: { id: string; authenticatedAt: string } | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Resolves `Authorization: Bearer <key>` to a principal: a staff or integration API key, or a customer's
 * self-service session token (`cst_…`). A bad, revoked or expired credential is refused.
 */
export function createAuthenticator(deps: {
  store: Pick<Store, 'findApiKeyByHash' | 'findCustomerSession'>;
  clock: Clock;
  codes: Pick<OneTimeCodes, 'sessionTokenHash'>;
}) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const key = header?.startsWith('Bearer ') ? header.slice(7).trim() : null;
    if (key?.startsWith('cst_')) {
      const session = await deps.store.findCustomerSession(
        deps.codes.sessionTokenHash(key),
        deps.clock.now().toISOString(),
      );
      if (session) {
        request.principal = {
          actor: { kind: 'customer', id: session.customerId, role: 'customer' },
          apiKeyId: null,
          role: 'customer',
          session: { id: session.id, authenticatedAt: session.authenticatedAt },
        };
        return;
      }
    }
    const record = key && !key.startsWith('cst_') ? await deps.store.findApiKeyByHash(hashApiKey(key)) : null;
    if (!record) {
      reply.header('www-authenticate', 'Bearer realm="amend"');
      return sendProblem(reply, request, {
        code: 'AUTH.UNAUTHENTICATED',
        message: key
          ? 'The API key or session is unknown, revoked or expired.'
          : 'Send an API key or session token as "Authorization: Bearer <key>".',
      });
    }
    const actor: Actor =
      record.role === 'integration'
        ? { kind: 'integration', id: record.id, role: 'integration' }
        : { kind: 'staff', id: record.staffUserId ?? record.id, role: record.role };
    request.principal = { actor, apiKeyId: record.id, role: record.role, session: null };
  };
}

/** A route guard: the caller's role must be one of `roles`. */
export function requireRole(...roles: Role[]) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.principal || !roles.includes(request.principal.role))
      return sendProblem(reply, request, {
        code: 'AUTH.FORBIDDEN',
        message: `This action needs one of these roles: ${roles.join(', ')}.`,
      });
  };
}
