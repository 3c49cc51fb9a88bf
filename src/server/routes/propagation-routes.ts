import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { attestManualTask } from '../../app/attest-manual-task.ts';
import { replayDeadLetter, retryDeadLetter } from '../../app/handle-dead-letter.ts';
import { ActorSchema } from '../../core/change-request-types.ts';
import { DeliverySchema, ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import type { ServerDeps } from '../server-deps.ts';

const ManualTaskSchema = z
  .object({
    id: z.string(),
    outboxId: z.number(),
    system: z.string(),
    customerId: z.string(),
    changeRequestId: z.string().nullable(),
    values: z.record(z.string(), z.unknown()).describe('The exact values to enter in the system.'),
    status: z.enum(['open', 'done']),
    createdAt: z.string(),
    attestedBy: ActorSchema.nullable(),
    attestedAt: z.string().nullable(),
    evidence: z.string().nullable(),
  })
  .meta({ id: 'ManualTask' });

const problems = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function registerPropagationRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/v1/manual-tasks',
    {
      config: { action: 'manual_task.read' },
      schema: {
        tags: ['propagation'],
        summary: 'Values to enter by hand in connected systems without an API',
        querystring: z.strictObject({
          status: z.enum(['open', 'done']).default('open'),
          system: z.string().max(63).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          after: z.uuid().optional(),
        }),
        response: {
          200: z.object({ items: z.array(ManualTaskSchema), nextCursor: z.string().nullable() }),
          ...problems,
        },
      },
    },
    async (request) => deps.store.listManualTasks(request.query),
  );

  api.post(
    '/api/v1/manual-tasks/:id/attest',
    {
      config: { action: 'manual_task.attest' },
      schema: {
        tags: ['propagation'],
        summary: 'Attest that the values were entered (procedure step 5.2); confirms the delivery',
        params: z.object({ id: z.uuid() }),
        body: z.strictObject({
          evidence: z
            .string()
            .trim()
            .max(2000)
            .optional()
            .describe('e.g. the reference the other system gave'),
        }),
        response: { 200: ManualTaskSchema, ...problems },
      },
    },
    async (request, reply) => {
      const result = await attestManualTask(
        deps,
        request.params.id,
        request.principal!.actor,
        request.body.evidence ?? null,
      );
      return result.ok ? result.value : sendProblem(reply, request, result.error);
    },
  );

  api.get(
    '/api/v1/dead-letters',
    {
      config: { action: 'dead_letter.read' },
      schema: {
        tags: ['propagation'],
        summary:
          'Deliveries that gave up (after the retry horizon, a refusal, or repeated drift), oldest first',
        querystring: z.strictObject({
          system: z.string().max(63).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          after: z.coerce.number().int().min(0).optional(),
        }),
        response: {
          200: z.object({ items: z.array(DeliverySchema), nextCursor: z.number().nullable() }),
          ...problems,
        },
      },
    },
    async (request) =>
      deps.store.listDeadLetters({
        destination: request.query.system,
        limit: request.query.limit,
        after: request.query.after,
      }),
  );

  for (const [verb, run, summary] of [
    ['retry', retryDeadLetter, 'Queue the dead letter again as it was (the fault is fixed)'],
    [
      'replay',
      replayDeadLetter,
      'Replace the dead letter with the customer’s current values for that system',
    ],
  ] as const) {
    api.post(
      `/api/v1/dead-letters/:id/${verb}`,
      {
        config: { action: 'dead_letter.act' },
        schema: {
          tags: ['propagation'],
          summary,
          params: z.object({ id: z.coerce.number().int().min(1) }),
          response: { 200: DeliverySchema, ...problems },
        },
      },
      async (request, reply) => {
        const result = await run(deps, request.params.id, request.principal!.actor);
        return result.ok ? result.value : sendProblem(reply, request, result.error);
      },
    );
  }
}
