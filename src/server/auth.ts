import type { FastifyReply, FastifyRequest } from 'fastify';
import { hashApiKey } from '../adapters/api-keys.ts';
import type { Store } from '../app/ports.ts';

import type { Actor, Role } from '../core/change-request-types.ts';
import { sendProblem } from './problem.ts';

export interface Principal {
  readonly actor: Actor;
  readonly apiKeyId: string;
  readonly role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** Resolves `Authorization: Bearer <api key>` to a principal; a bad or revoked key is refused. */
export function createAuthenticator(store: Pick<Store, 'findApiKeyByHash'>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const key = header?.startsWith('Bearer ') ? header.slice(7).trim() : null;
    const record = key ? await store.findApiKeyByHash(hashApiKey(key)) : null;
    if (!record) {
      reply.header('www-authenticate', 'Bearer realm="amend"');
      return sendProblem(reply, request, {
        code: 'AUTH.UNAUTHENTICATED',
        message: key
          ? 'The API key is unknown or revoked.'
          : 'Send an API key as "Authorization: Bearer <key>".',
      });
    }
    const actor: Actor =
      record.role === 'integration'
        ? { kind: 'integration', id: record.id, role: 'integration' }
        : { kind: 'staff', id: record.staffUserId ?? record.id, role: record.role };
    request.principal = { actor, apiKeyId: record.id, role: record.role };
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
