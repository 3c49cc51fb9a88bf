import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AuditEntryViewSchema, AuditQuerySchema, ProblemSchema } from '../api-schemas.ts';
import { requireRole } from '../auth.ts';
import type { ServerDeps } from '../server-deps.ts';

export function registerAuditRoutes(app: FastifyInstance, deps: ServerDeps): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/v1/audit',
    {
      preHandler: requireRole('team_lead', 'manager', 'admin', 'auditor'),
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
