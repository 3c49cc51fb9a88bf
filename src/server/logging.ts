import type { FastifyServerOptions } from 'fastify';

/** Keys whose values are personal data or secrets wherever they appear in a logged object. */
const PERSONAL_KEYS = [
  'email',
  'phone',
  'legalName',
  'preferredName',
  'postalAddress',
  'dateOfBirth',
  'cardNumber',
  'iban',
  'password',
  'currentPassword',
  'newPassword',
  'code',
  'token',
  'csrfToken',
  'answer',
  'answers',
  'apiKey',
  'to',
];

const PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  // PostgreSQL puts the offending values of a failed constraint in `detail`.
  'err.detail',
  'err.parameters',
  ...PERSONAL_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
];

/** A URL's query may name a customer (`?email=`): the log keeps the path and which parameters were sent. */
export function redactedUrl(url: string): string {
  const [path, query] = url.split('?', 2);
  if (!query) return path ?? url;
  const names = [...new URLSearchParams(query).keys()];
  return `${path}?${names.map((name) => `${encodeURIComponent(name)}=[redacted]`).join('&')}`;
}

/**
 * The server's pino options: credentials and personal data never reach the log (pino redaction by path, and a
 * request serializer that drops query values). Bodies are never logged.
 */
export function loggerOptions(level: string): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level,
    redact: { paths: PATHS, censor: '[redacted]' },
    serializers: {
      req: (request: { method: string; url: string; id: string; ip?: string }) => ({
        id: request.id,
        method: request.method,
        url: redactedUrl(request.url),
      }),
    },
  };
}
