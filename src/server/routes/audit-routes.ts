import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { readAuditValues } from '../../app/read-personal-data.ts';
import { AuditEntryViewSchema, AuditQuerySchema, ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import type { ServerDeps } from '../server-deps.ts';

export function registerAuditRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/api/v1/audit/:id/values',
    {
      config: { action: 'audit.values.read' },
      schema: {
        tags: ['audit'],
        summary: 'An audit entry with its encrypted values opened; the read is itself audited',
        params: z.strictObject({ id: z.coerce.number().int().min(1) }),
        response: {
          200: z.object({ entry: AuditEntryViewSchema, values: z.record(z.string(), z.unknown()) }),
          401: ProblemSchema,
          403: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await readAuditValues(deps, request.params.id, request.principal!.actor);
      return result.ok ? result.value : sendProblem(reply, request, result.error);
    },
  );
  api.get(
    '/api/v1/audit',
    {
      config: { action: 'audit.read' },
      schema: {
        tags: ['audit'],
        summary: 'Audit entries, oldest first, filtered by customer, change request, action or time',
        querystring: AuditQuerySchema,
        response: {
          200: z.object({ items: z.array(AuditEntryViewSchema), nextCursor: z.number().nullable() }),
          401: ProblemSchema,
          403: ProblemSchema,
        },
      },
    },
    async (request) => {
      const { customerId, ...query } = request.query;
      const page = await deps.store.listAudit({ ...query, chain: customerId });
      return { items: page.entries, nextCursor: page.nextCursor };
    },
  );
}
