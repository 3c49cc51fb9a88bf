import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  AuditEntryViewSchema,
  ChangeRequestViewSchema,
  CustomerListQuerySchema,
  CustomerViewSchema,
  IdParamsSchema,
  ProblemSchema,
  pageOf,
} from '../api-schemas.ts';
import { requireRole } from '../auth.ts';
import { sendProblem } from '../problem.ts';
import type { ServerDeps } from '../server-deps.ts';
import { changeRequestView } from '../views.ts';

const problems = { 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function registerCustomerRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const readers = requireRole('representative', 'team_lead', 'manager', 'admin', 'auditor', 'integration');

  api.get(
    '/api/v1/customers',
    {
      preHandler: readers,
      schema: {
        tags: ['customers'],
        summary: 'Find customers (by email, or page through all)',
        querystring: CustomerListQuerySchema,
        response: { 200: pageOf(CustomerViewSchema), ...problems },
      },
    },
    async (request) => deps.store.listCustomers(request.query),
  );

  api.get(
    '/api/v1/customers/:id',
    {
      preHandler: readers,
      schema: {
        tags: ['customers'],
        summary: 'A customer record',
        params: IdParamsSchema,
        response: { 200: CustomerViewSchema, ...problems },
      },
    },
    async (request, reply) => {
      const customer = await deps.store.findCustomer(request.params.id);
      if (!customer)
        return sendProblem(reply, request, {
          code: 'CUSTOMER.NOT_FOUND',
          message: `No customer has id ${request.params.id}.`,
        });
      reply.header('etag', `"${customer.version}"`);
      return customer;
    },
  );

  api.get(
    '/api/v1/customers/:id/history',
    {
      preHandler: readers,
      schema: {
        tags: ['customers'],
        summary: "A customer's change requests and record notes (audit entries), newest requests first",
        params: IdParamsSchema,
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(500).default(200),
          after: z.coerce.number().int().min(0).optional(),
        }),
        response: {
          200: z.object({
            changeRequests: z.array(ChangeRequestViewSchema),
            auditEntries: z.array(AuditEntryViewSchema),
            nextCursor: z.number().nullable(),
          }),
          ...problems,
        },
      },
    },
    async (request, reply) => {
      const customer = await deps.store.findCustomer(request.params.id);
      if (!customer)
        return sendProblem(reply, request, {
          code: 'CUSTOMER.NOT_FOUND',
          message: `No customer has id ${request.params.id}.`,
        });
      const [requests, audit] = await Promise.all([
        deps.store.listChangeRequests({ customerId: customer.id, limit: 200 }),
        deps.store.listAudit({ chain: customer.id, limit: request.query.limit, after: request.query.after }),
      ]);
      return {
        changeRequests: requests.items.map((item) => changeRequestView(item, deps.policy)),
        auditEntries: audit.entries,
        nextCursor: audit.nextCursor,
      };
    },
  );
}
