import type { FastifyRequest } from 'fastify';
import type { Source } from '../core/change-request-types.ts';

const DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Where an authenticated request came from, for the audit trail and the anomaly rules. */
export function sourceOf(request: FastifyRequest): Source {
  const device = request.headers['x-amend-device-id'];
  return {
    ip: request.ip,
    userAgent: request.headers['user-agent']?.slice(0, 300) ?? null,
    apiKeyId: request.principal?.apiKeyId ?? null,
    // A malformed device id is dropped rather than refused: it is a signal, not a credential.
    deviceId: typeof device === 'string' && DEVICE_ID.test(device) ? device : null,
  };
}
