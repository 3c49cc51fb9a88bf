import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  ApprovalQueueQuerySchema,
  ChangeRequestViewSchema,
  EscalationQueueQuerySchema,
  ProblemSchema,
  pageOf,
} from '../api-schemas.ts';
import type { ServerDeps } from '../server-deps.ts';
import { changeRequestView } from '../views.ts';

export function registerQueueRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const problems = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema };

  api.get(
    '/api/v1/queues/approvals',
    {
      config: { action: 'queue.approvals' },
      schema: {
        tags: ['queues'],
        summary:
          'Requests awaiting approval, the earliest deadline first (overdue ones are flagged to managers)',
        querystring: ApprovalQueueQuerySchema,
        response: { 200: pageOf(ChangeRequestViewSchema), ...problems },
      },
    },
    async (request) => {
      const { overdue, ...query } = request.query;
      const page = await deps.store.listApprovalQueue({
        ...query,
        isOverdue: overdue === undefined ? undefined : overdue === 'true',
        now: deps.clock.now().toISOString(),
      });
      return {
        items: page.items.map((item) => changeRequestView(item, deps.policy)),
        nextCursor: page.nextCursor,
      };
    },
  );

  api.get(
    '/api/v1/queues/escalations',
    {
      config: { action: 'queue.escalations' },
      schema: {
        tags: ['queues'],
        summary: 'Escalated requests, the longest-waiting first, by reason and assignee',
        querystring: EscalationQueueQuerySchema,
        response: { 200: pageOf(ChangeRequestViewSchema), ...problems },
      },
    },
    async (request) => {
      const { unassigned, ...query } = request.query;
      const page = await deps.store.listEscalationQueue({ ...query, isUnassigned: unassigned === 'true' });
      return {
        items: page.items.map((item) => changeRequestView(item, deps.policy)),
        nextCursor: page.nextCursor,
      };
    },
  );
}
