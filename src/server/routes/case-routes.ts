import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { resolveSecurityCase, revertChangeRequest } from '../../app/revert-change-request.ts';
import { ActorSchema } from '../../core/change-request-types.ts';
import { ChangeRequestViewSchema, ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import { sourceOf } from '../request-source.ts';
import type { ServerDeps } from '../server-deps.ts';
import { changeRequestView } from '../views.ts';

const SecurityCaseSchema = z
  .object({
    id: z.string(),
    customerId: z.string(),
    changeRequestId: z.string(),
    kind: z.literal('suspected_unauthorised_change'),
    priority: z.literal('high'),
    status: z.enum(['open', 'resolved']),
    openedAt: z.string(),
    linkId: z.string().nullable(),
    revertRequestId: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    resolvedBy: ActorSchema.nullable(),
    resolution: z.enum(['reverted', 'not_fraud']).nullable(),
    note: z.string().nullable(),
  })
  .meta({ id: 'SecurityCase' });

const problems = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  422: ProblemSchema,
  423: ProblemSchema,
};
const CaseParamsSchema = z.object({ id: z.uuid() });

export function registerCaseRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/v1/cases',
    {
      config: { action: 'case.read' },
      schema: {
        tags: ['cases'],
        summary: '"This wasn\'t me" cases, oldest first',
        querystring: z.strictObject({
          status: z.enum(['open', 'resolved']).default('open'),
          customerId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          after: z.uuid().optional(),
        }),
        response: {
          200: z.object({ items: z.array(SecurityCaseSchema), nextCursor: z.string().nullable() }),
          ...problems,
        },
      },
    },
    async (request) => deps.store.listSecurityCases(request.query),
  );

  api.post(
    '/api/v1/cases/:id/revert',
    {
      config: { action: 'case.act' },
      schema: {
        tags: ['cases'],
        summary: 'Revert the reported change: previous values restored through the normal path, everywhere',
        params: CaseParamsSchema,
        response: { 200: ChangeRequestViewSchema, ...problems },
      },
    },
    async (request, reply) => {
      const result = await revertChangeRequest(
        deps,
        request.params.id,
        request.principal!.actor,
        sourceOf(request),
      );
      return result.ok
        ? changeRequestView(result.value, deps.policy)
        : sendProblem(reply, request, result.error);
    },
  );

  api.post(
    '/api/v1/cases/:id/resolve',
    {
      config: { action: 'case.act' },
      schema: {
        tags: ['cases'],
        summary: 'Close the case (after the revert, or as not fraud) and lift the freeze',
        params: CaseParamsSchema,
        body: z.strictObject({
          resolution: z.enum(['reverted', 'not_fraud']),
          note: z.string().trim().min(1).max(2000),
        }),
        response: { 200: SecurityCaseSchema, ...problems },
      },
    },
    async (request, reply) => {
      const result = await resolveSecurityCase(
        deps,
        request.params.id,
        request.principal!.actor,
        request.body.resolution,
        request.body.note,
      );
      return result.ok ? result.value : sendProblem(reply, request, result.error);
    },
  );

  api.get(
    '/api/v1/mail',
    {
      config: { action: 'mail.read' },
      schema: {
        tags: ['mail'],
        summary: 'Mail kept by the built-in mail catcher (when no SMTP server is configured), newest first',
        querystring: z.strictObject({
          to: z.string().max(254).optional(),
          changeRequestId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          after: z.uuid().optional(),
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                createdAt: z.string(),
                to: z.string(),
                subject: z.string(),
                text: z.string(),
                html: z.string(),
                changeRequestId: z.string().nullable(),
              }),
            ),
            nextCursor: z.string().nullable(),
          }),
          ...problems,
        },
      },
    },
    async (request) =>
      deps.store.listCaughtMail({
        recipient: request.query.to,
        changeRequestId: request.query.changeRequestId,
        limit: request.query.limit,
        after: request.query.after,
      }),
  );
}
