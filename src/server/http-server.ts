import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { createAllowedMethods } from './allowed-methods.ts';
import { type AccessRoute, createAuthenticator } from './auth.ts';
import { createMetrics } from './metrics.ts';
import { answerClientError, handleError, sendProblem } from './problem.ts';
import { registerAdminRoutes } from './routes/admin-routes.ts';
import { registerAnomalyRoutes } from './routes/anomaly-routes.ts';
import { registerAuditRoutes } from './routes/audit-routes.ts';
import { registerCaseRoutes } from './routes/case-routes.ts';
import { registerChangeRequestRoutes } from './routes/change-request-routes.ts';
import { registerCustomerRoutes } from './routes/customer-routes.ts';
import { registerCustomerSessionRoutes } from './routes/customer-session-routes.ts';
import { registerDocumentRoutes } from './routes/document-routes.ts';
import { registerNotMeRoutes } from './routes/not-me-routes.ts';
import { registerPropagationRoutes } from './routes/propagation-routes.ts';
import { registerQueueRoutes } from './routes/queue-routes.ts';
import { registerReportRoutes } from './routes/report-routes.ts';
import { registerStaffSessionRoutes, registerStaffSignInRoute } from './routes/staff-session-routes.ts';
import { registerValidateRoutes } from './routes/validate-routes.ts';
import type { ServerDeps } from './server-deps.ts';

/** Change requests are small; a larger body is a mistake or an attack. */
const BODY_LIMIT_BYTES = 64 * 1024;

export interface ServerOptions {
  readonly logger?: FastifyServerOptions['logger'];
  /**
   * Reverse proxies to believe about the client's address and scheme (X-Forwarded-For/-Proto): the address
   * goes into the audit trail, the anomaly rules' sources and the per-address limits, which behind a proxy
   * would otherwise all see the proxy.
   */
  readonly trustProxy?: string[] | false;
}

/**
 * The HTTP API. Routes validate with the same zod schemas that generate /openapi.json; every error is
 * problem+json with a stable code; everything under /api requires an API key.
 */
export async function buildServer(deps: ServerDeps, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    ajv: { customOptions: { coerceTypes: false } },
    clientErrorHandler: answerClientError,
    trustProxy: options.trustProxy ?? false,
    // Fastify waits for a request body forever by default; served without a proxy in front, a client trickling
    // one byte a minute would hold a connection open. Two minutes carries a 10 MB document over a slow link.
    requestTimeout: 120_000,
  });
  const allowedMethods = createAllowedMethods();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) allowedMethods.add(method, route.url);
  });
  await app.register(fastifyCookie);
  // Security headers (CSP, HSTS, nosniff, frame-ancestors 'none' …); the not-me page's one inline style is allowed.
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        'frame-ancestors': ["'none'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        // Amend is often served over plain HTTP on a private network or behind a TLS proxy; forcing https
        // sub-requests there would break pages. HSTS still applies whenever it is reached over HTTPS.
        'upgrade-insecure-requests': null,
      },
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null);
  const accessRoutes: AccessRoute[] = [];
  app.decorate('accessRoutes', accessRoutes);
  app.setErrorHandler(handleError);
  // API answers carry personal data and credentials: no browser or proxy may keep a copy (ASVS 8.2.1).
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = allowedMethods.at(path);
    if (allowed.length === 0)
      return sendProblem(reply, request, {
        code: 'REQUEST.ROUTE_NOT_FOUND',
        message: `No endpoint ${request.method} ${path}.`,
      });
    reply.header('allow', allowed.join(', '));
    if (request.method === 'OPTIONS') return reply.code(204).send();
    return sendProblem(reply, request, {
      code: 'REQUEST.METHOD_NOT_ALLOWED',
      message: `${path} does not answer ${request.method}; it answers ${allowed.join(', ')}.`,
    });
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Amend',
        version: '1.0.0',
        description:
          'Runs the customer data update procedure: every change logged, identity-verified to its risk, validated, read back, approved where sensitive, applied with an audit entry, propagated and confirmed. Errors are RFC 9457 problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'An Amend API key, or a customer session token (cst_…).',
          },
          staffSession: {
            type: 'apiKey',
            in: 'cookie',
            name: 'amend_session',
            description:
              'A staff session from POST /api/v1/staff-sessions; state-changing calls also send X-CSRF-Token.',
          },
        },
      },
      security: [{ apiKey: [] }, { staffSession: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    const isReachable = await deps.isDatabaseReachable();
    return reply.code(isReachable ? 200 : 503).send({
      status: isReachable ? 'ok' : 'unavailable',
      database: isReachable ? 'reachable' : 'unreachable',
    });
  });

  const metrics = createMetrics(deps.store, deps.clock, (error) =>
    app.log.error({ err: error }, '/metrics could not read the all-time figures; serving the last reading'),
  );
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.render()),
  );

  // Only the public endpoints are limited (each route names its limit); staff and integrations are keyed and audited.
  // The counts are per process: behind several servers, each allows the limit (see SECURITY notes in the README).
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'REQUEST.RATE_LIMITED',
      message: `Too many attempts; try again in ${context.after}.`,
    }),
  });
  registerNotMeRoutes(app, deps);
  registerCustomerSessionRoutes(app, deps);
  registerStaffSignInRoute(app, deps);

  await app.register(async (api) => {
    // Fail closed: an API route that names no action (docs/roles.md) would be open to every role.
    api.addHook('onRoute', (route) => {
      const action = route.config?.action;
      if (!action)
        throw new Error(
          `${route.method} ${route.url} names no action; add config.action from the access matrix.`,
        );
      for (const method of [route.method].flat())
        if (method !== 'HEAD') accessRoutes.push({ method, url: route.url, action });
    });
    api.addHook('onRequest', createAuthenticator(deps));
    registerStaffSessionRoutes(api, deps);
    registerAdminRoutes(api, deps);
    registerChangeRequestRoutes(api, deps);
    registerCustomerRoutes(api, deps);
    registerAuditRoutes(api, deps);
    registerQueueRoutes(api, deps);
    registerPropagationRoutes(api, deps);
    registerCaseRoutes(api, deps);
    registerAnomalyRoutes(api, deps);
    registerReportRoutes(api, deps);
    registerValidateRoutes(api, deps);
    await registerDocumentRoutes(api, deps);
  });

  return app;
}
