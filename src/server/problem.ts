import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../core/error-catalogue.ts';
import type { DomainError } from '../core/result.ts';

const PROBLEM_TYPE_BASE = 'https://amend.dev/problems/';

/** A domain error as an RFC 9457 problem document. Context keys travel as extension members. */
function problemDocument(error: DomainError, instance: string) {
  const spec = ERROR_CATALOGUE[error.code];
  const { code, message, ...context } = error;
  return {
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: spec.title,
    status: spec.status,
    detail: message,
    code,
    instance,
    ...context,
  };
}

/** Sends a domain error as problem+json. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: DomainError): FastifyReply {
  return reply
    .code(ERROR_CATALOGUE[error.code].status)
    .type('application/problem+json')
    .send(problemDocument(error, request.id));
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

/** Why a body could not be read, and the fix. */
function unreadableBody(error: FastifyError & { code?: string }): string {
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return 'The request body is empty; send a JSON object, or no Content-Type when there is no body.';
  if (error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
    return 'The request body is not as long as its Content-Length says; send it whole.';
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return 'The request body is not valid JSON, or holds a "__proto__" or "constructor.prototype" key, which is refused; check its quotes, commas and brackets.';
  return 'The request body could not be read; send JSON with Content-Type: application/json.';
}

const CLIENT_ERRORS: Readonly<Record<string, { code: ErrorCode; message: string }>> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    code: 'REQUEST.TIMEOUT',
    message: 'The request did not arrive in time; nothing was read. Send it again.',
  },
  HPE_HEADER_OVERFLOW: {
    code: 'REQUEST.HEADERS_TOO_LARGE',
    message: 'The request headers are over 16 KiB in all; send fewer or shorter headers (cookies too).',
  },
};

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (malformed HTTP, oversized headers, a
 * request too slow to arrive) as problem+json with a stable code too, then closes the connection: after a
 * malformed request, where the next one starts is unknown. Fastify's own answer here is not problem+json.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has no one to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const problem = CLIENT_ERRORS[error.code ?? ''] ?? {
    code: 'REQUEST.INVALID',
    message: 'The request is not valid HTTP/1.1; check the request line, headers and body framing.',
  };
  const { status } = ERROR_CATALOGUE[problem.code];
  const body = JSON.stringify(problemDocument(problem, randomUUID()));
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy();
}

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
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415)
    return sendProblem(
      reply,
      request,
      problem(
        'REQUEST.UNSUPPORTED_MEDIA_TYPE',
        `The body's Content-Type (${request.headers['content-type'] ?? 'none'}) is not one this endpoint reads; send JSON with Content-Type: application/json.`,
      ),
    );
  if (error.code?.startsWith('FST_ERR_CTP') || error.statusCode === 400)
    return sendProblem(reply, request, problem('REQUEST.INVALID', unreadableBody(error)));
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
