import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { exportCustomerData, viewCustomer } from '../../app/read-personal-data.ts';
import { setSecurityQuestions } from '../../app/security-questions.ts';
import { maskedCustomer } from '../../core/masking-fns.ts';
import {
  AuditEntryViewSchema,
  ChangeRequestViewSchema,
  CustomerListQuerySchema,
  CustomerViewSchema,
  IdParamsSchema,
  ProblemSchema,
  pageOf,
} from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import { sourceOf } from '../request-source.ts';
import type { ServerDeps } from '../server-deps.ts';
import { changeRequestView } from '../views.ts';

const problems = { 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function registerCustomerRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/v1/customers',
    {
      config: { action: 'customer.list' },
      schema: {
        tags: ['customers'],
        summary: 'Find customers (by email, or page through all); sensitive values masked',
        description:
          'Values of sensitive and legal fields (policy tiers) are masked here; GET /api/v1/customers/{id} shows them in full and records the read in the audit log.',
        querystring: CustomerListQuerySchema,
        response: { 200: pageOf(CustomerViewSchema), ...problems },
      },
    },
    async (request) => {
      const page = await deps.store.listCustomers(request.query);
      return { ...page, items: page.items.map((customer) => maskedCustomer(customer, deps.policy)) };
    },
  );

  api.get(
    '/api/v1/customers/:id',
    {
      config: { action: 'customer.read' },
      schema: {
        tags: ['customers'],
        summary: 'A customer record',
        params: IdParamsSchema,
        response: { 200: CustomerViewSchema, ...problems },
      },
    },
    async (request, reply) => {
      const result = await viewCustomer(deps, request.params.id, request.principal!.actor, sourceOf(request));
      if (!result.ok) return sendProblem(reply, request, result.error);
      reply.header('etag', `"${result.value.version}"`);
      return result.value;
    },
  );

  api.get(
    '/api/v1/customers/:id/export',
    {
      config: { action: 'customer.export' },
      schema: {
        tags: ['customers'],
        summary: 'Everything held about a customer, as JSON (GDPR Art. 15 access request); audited',
        description:
          'The record, every change request, where the data was sent (connected systems and mail), the security questions set (never answers) and the full audit trail with sealed values opened. A customer may export only their own data.',
        params: IdParamsSchema,
        response: {
          200: z.object({
            exportedAt: z.string(),
            customer: CustomerViewSchema,
            changeRequests: z.array(z.record(z.string(), z.unknown())),
            recipients: z.array(z.record(z.string(), z.unknown())),
            securityQuestions: z.array(z.object({ question: z.string(), setAt: z.string() })),
            auditTrail: z.array(AuditEntryViewSchema),
          }),
          ...problems,
        },
      },
    },
    async (request, reply) => {
      const result = await exportCustomerData(
        deps,
        request.params.id,
        request.principal!.actor,
        sourceOf(request),
      );
      if (!result.ok) return sendProblem(reply, request, result.error);
      reply.header('content-disposition', `attachment; filename="customer-${request.params.id}.json"`);
      return result.value as never;
    },
  );

  api.get(
    '/api/v1/customers/:id/history',
    {
      config: { action: 'customer.history' },
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
      config: { action: 'customer.security_questions.set' },
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
      config: { action: 'customer.security_questions.read' },
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
