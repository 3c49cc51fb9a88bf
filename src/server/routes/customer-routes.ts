import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { setSecurityQuestions } from '../../app/security-questions.ts';
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

  api.put(
    '/api/v1/customers/:id/security-questions',
    {
      preHandler: requireRole('team_lead', 'manager'),
      schema: {
        tags: ['customers'],
        summary:
          "Set the customer's security questions (answers normalised and hashed with argon2id, never stored or shown)",
        params: IdParamsSchema,
        body: z.strictObject({
          questions: z
            .array(
              z.strictObject({
                question: z.string().trim().min(5).max(200),
                answer: z.string().min(1).max(200),
              }),
            )
            .min(1)
            .max(5),
        }),
        response: { 200: z.object({ questions: z.array(z.string()) }), 400: ProblemSchema, ...problems },
      },
    },
    async (request, reply) => {
      const result = await setSecurityQuestions(
        deps,
        request.params.id,
        request.principal!.actor,
        request.body.questions,
      );
      return result.ok ? result.value : sendProblem(reply, request, result.error);
    },
  );

  api.get(
    '/api/v1/customers/:id/security-questions',
    {
      preHandler: requireRole('representative', 'team_lead', 'manager'),
      schema: {
        tags: ['customers'],
        summary: 'The questions to ask (never the answers)',
        params: IdParamsSchema,
        response: { 200: z.object({ questions: z.array(z.string()) }), ...problems },
      },
    },
    async (request) => ({
      questions: (await deps.store.securityQuestions(request.params.id)).map((q) => q.question),
    }),
  );
}
