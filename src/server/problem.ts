import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../core/error-catalogue.ts';
import type { DomainError } from '../core/result.ts';

const PROBLEM_TYPE_BASE = 'https://amend.dev/problems/';

/** Sends a domain error as RFC 9457 problem+json. Context keys travel as extension members. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: DomainError): FastifyReply {
  const spec = ERROR_CATALOGUE[error.code];
  const { code, message, ...context } = error;
  return reply
    .code(spec.status)
    .type('application/problem+json')
    .send({
      type: `${PROBLEM_TYPE_BASE}${code}`,
      title: spec.title,
      status: spec.status,
      detail: message,
      code,
      instance: request.id,
      ...context,
    });
}

const problem = (code: ErrorCode, message: string, context: Record<string, unknown> = {}): DomainError => ({
  ...context,
  code,
  message,
});

// Connection failures from node-postgres and the OS: the service is unavailable, not broken.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P03',
  '08006',
  '08001',
  '08003',
]);

/**
 * Every error Fastify or a handler throws becomes a problem with a stable code. Unknown errors are logged
 * with the request id and answered without detail: never a raw database or library message.
 */
export function handleError(
  error: FastifyError & { code?: string },
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const errors = error.validation.map((issue) => ({
      path: [error.validationContext, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
      message: issue.message,
    }));
    return sendProblem(
      reply,
      request,
      problem('REQUEST.INVALID', 'The request does not match the schema; see errors.', { errors }),
    );
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413)
    return sendProblem(reply, request, problem('REQUEST.TOO_LARGE', 'The request body is too large.'));
  if (error.code?.startsWith('FST_ERR_CTP') || error.statusCode === 400 || error.statusCode === 415)
    return sendProblem(
      reply,
      request,
      problem(
        'REQUEST.INVALID',
        'The request body could not be read; send JSON with Content-Type: application/json.',
      ),
    );
  if (error.code === 'REQUEST.RATE_LIMITED')
    return sendProblem(reply, request, problem('REQUEST.RATE_LIMITED', error.message));
  if (error.code && UNAVAILABLE_CODES.has(error.code)) {
    request.log.error({ err: { code: error.code } }, 'database unavailable');
    reply.header('retry-after', '5');
    return sendProblem(
      reply,
      request,
      problem('SERVICE.UNAVAILABLE', 'The database is unavailable; nothing was changed. Retry shortly.'),
    );
  }
  // Name, code and stack only: enumerable members of driver errors (e.g. `detail`) can hold personal data.
  request.log.error(
    { error: { name: error.name, code: error.code, stack: error.stack } },
    'unexpected error',
  );
  return sendProblem(
    reply,
    request,
    problem('INTERNAL', 'Something went wrong; nothing was changed. Quote the instance id to support.'),
  );
}
