import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiKeyIssuer } from '../../adapters/api-keys.ts';
import { enrolIntegration, revokeApiKey } from '../../app/enrol-integration.ts';
import { enrolStaffMember } from '../../app/staff-sign-in.ts';
import { ACTIONS, STAFF_ROLES } from '../../core/access-matrix.ts';
import { IdParamsSchema, ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import type { ServerDeps } from '../server-deps.ts';

const ApiKeyViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.string(),
    staffUserId: z.string().nullable(),
    scopes: z.array(z.string()).nullable(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
  })
  .meta({ id: 'ApiKey' });

/** An admin's work: staff members and API keys. Admins do not see customers' personal data. */
export function registerAdminRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const problems = { 401: ProblemSchema, 403: ProblemSchema };
  const keyDeps = { ...deps, keys: apiKeyIssuer };

  api.get(
    '/api/v1/staff-users',
    {
      config: { action: 'staff.manage' },
      schema: {
        tags: ['administration'],
        summary: 'Staff members',
        response: {
          200: z.object({
            items: z.array(
              z.object({ id: z.string(), email: z.string(), displayName: z.string(), role: z.string() }),
            ),
          }),
          ...problems,
        },
      },
    },
    async () => ({ items: await deps.store.listStaffUsers() }),
  );

  api.post(
    '/api/v1/staff-users',
    {
      config: { action: 'staff.manage' },
      schema: {
        tags: ['administration'],
        summary: 'Add a staff member: answers, once, the initial password and the TOTP secret to hand over',
        body: z.strictObject({
          email: z.email().max(254),
          displayName: z.string().trim().min(1).max(120),
          role: z.enum(STAFF_ROLES),
        }),
        response: {
          201: z.object({
            user: z.object({ id: z.string(), email: z.string(), displayName: z.string(), role: z.string() }),
            initialPassword: z.string(),
            totpUri: z.string(),
            totpSecret: z.string(),
            apiKey: z.string(),
          }),
          400: ProblemSchema,
          409: ProblemSchema,
          ...problems,
        },
      },
    },
    async (request, reply) => {
      const result = await enrolStaffMember(keyDeps, request.body, request.principal!.actor);
      return result.ok ? reply.code(201).send(result.value) : sendProblem(reply, request, result.error);
    },
  );

  api.get(
    '/api/v1/api-keys',
    {
      config: { action: 'api_key.manage' },
      schema: {
        tags: ['administration'],
        summary: 'API keys (never the keys themselves: only their digests are kept)',
        response: { 200: z.object({ items: z.array(ApiKeyViewSchema) }), ...problems },
      },
    },
    async () => ({
      items: (await deps.store.listApiKeys()).map((key) => ({
        ...key,
        scopes: key.scopes ? [...key.scopes] : null,
      })),
    }),
  );

  api.post(
    '/api/v1/api-keys',
    {
      config: { action: 'api_key.manage' },
      schema: {
        tags: ['administration'],
        summary:
          'Issue an integration API key, optionally limited to some actions (docs/roles.md); shown once',
        body: z.strictObject({
          name: z.string().trim().min(1).max(120),
          scopes: z
            .array(z.enum(ACTIONS as [string, ...string[]]))
            .min(1)
            .optional(),
        }),
        response: { 201: z.object({ id: z.string(), apiKey: z.string() }), 400: ProblemSchema, ...problems },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await enrolIntegration(keyDeps, request.body.name, (request.body.scopes as never) ?? null)),
  );

  api.delete(
    '/api/v1/api-keys/:id',
    {
      config: { action: 'api_key.manage' },
      schema: {
        tags: ['administration'],
        summary: 'Revoke an API key: it stops working at once',
        params: IdParamsSchema,
        response: { 204: z.null(), 404: ProblemSchema, ...problems },
      },
    },
    async (request, reply) => {
      const isRevoked = await revokeApiKey(deps, request.params.id, request.principal!.actor);
      if (!isRevoked)
        return sendProblem(reply, request, {
          code: 'API_KEY.NOT_FOUND',
          message: `No active API key has id ${request.params.id}.`,
        });
      return reply.code(204).send(null);
    },
  );
}
