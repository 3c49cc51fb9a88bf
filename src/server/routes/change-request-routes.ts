import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sha256Hex } from '../../adapters/audit-signer.ts';
import { assignChangeRequest } from '../../app/assign-change-request.ts';
import { checkAccountFactAnswer } from '../../app/check-account-fact.ts';
import { attachRecentSession } from '../../app/customer-sign-in.ts';
import { editChangeRequest } from '../../app/edit-change-request.ts';
import { checkOneTimeCode, sendOneTimeCode } from '../../app/one-time-code.ts';
import { runChangeRequestCommand } from '../../app/run-change-request-command.ts';
import { checkKnowledgeAnswer } from '../../app/security-questions.ts';
import { submitChangeRequest } from '../../app/submit-change-request.ts';
import { tokenisePaymentDetails } from '../../app/tokenise-payment-details.ts';
import { verifyIdentity } from '../../app/verify-identity.ts';
import type { Action } from '../../core/access-matrix.ts';
import { ACCOUNT_FACTS } from '../../core/account-fact-fns.ts';
import { type ChangeRequestCommand, conflictingFields } from '../../core/change-request-fns.ts';
import type { Actor, ChangeRequest, Channel } from '../../core/change-request-types.ts';
import { fail, type Result } from '../../core/result.ts';
import { canonicalJson } from '../../core/value-fns.ts';
import {
  AssignBodySchema,
  ChangeRequestDetailSchema,
  ChangeRequestListQuerySchema,
  ChangeRequestViewSchema,
  ConfirmBodySchema,
  EditBodySchema,
  EscalateBodySchema,
  IdParamsSchema,
  NoteBodySchema,
  PreviewSchema,
  ProblemSchema,
  pageOf,
  ReasonBodySchema,
  ResolveBodySchema,
  SubmitChangeRequestBodySchema,
  VerifyBodySchema,
} from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import { DEFAULT_SUBMISSION_LIMITS, limitPerKey } from '../public-rate-limits.ts';
import { sourceOf } from '../request-source.ts';
import type { ServerDeps } from '../server-deps.ts';
import { changeRequestView, timelineEntry } from '../views.ts';

const STAFF_CHANNELS: readonly Channel[] = ['phone', 'email', 'chat', 'in_person'];
const INTEGRATION_CHANNELS: readonly Channel[] = ['api', 'batch'];
const SELF_SERVICE_CHANNELS: readonly Channel[] = ['self_service'];
const problems = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  422: ProblemSchema,
};
const IfMatchHeadersSchema = z.object({
  'if-match': z
    .string()
    .regex(/^(W\/)?"?\d+"?$/)
    .optional()
    .describe(
      'The version (ETag) you last read; a request changed since is refused with CHANGE_REQUEST.STALE.',
    ),
});

const expectedVersionOf = (request: FastifyRequest): number | undefined => {
  const header = request.headers['if-match'];
  return typeof header === 'string' ? Number(header.replace(/\D/g, '')) : undefined;
};

/** The body as idempotency compares it: card numbers and IBANs replaced by keyed hashes, never kept in clear. */
function withoutPaymentNumbers(
  body: { changes: { field: string; value?: unknown }[] },
  deps: ServerDeps,
): unknown {
  return {
    ...body,
    changes: body.changes.map((change) => {
      const value = change.value as Record<string, unknown> | undefined;
      if (!value || typeof value !== 'object') return change;
      const masked = { ...value };
      for (const key of ['cardNumber', 'iban'])
        if (typeof masked[key] === 'string')
          masked[key] = deps.codes.hash('payment-idempotency', masked[key] as string);
      return { ...change, value: masked };
    }),
  };
}

export function registerChangeRequestRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const limits = deps.submissionLimits ?? DEFAULT_SUBMISSION_LIMITS;

  const answer = (request: FastifyRequest, reply: FastifyReply, result: Result<ChangeRequest>) => {
    if (!result.ok) return sendProblem(reply, request, result.error);
    reply.header('etag', `"${result.value.version}"`);
    return reply.send(changeRequestView(result.value, deps.policy));
  };

  api.post(
    '/api/v1/change-requests',
    {
      config: {
        action: 'change_request.submit',
        rateLimit: { max: limits.perMinutePerAddress, timeWindow: '1 minute' },
      },
      // Per customer, after the body is read: whoever submits, one customer's record is not changed in a loop.
      preHandler: limitPerKey(app, {
        max: limits.perHourPerCustomer,
        timeWindow: '1 hour',
        what: 'customer',
        keyOf: (request) => String((request.body as { customerId?: string }).customerId),
      }),
      schema: {
        tags: ['change requests'],
        summary: 'Log a change request (procedure step 1)',
        description:
          'Validates and normalises every value, classifies the risk tier and answers what follows. Honours `Idempotency-Key` for 24 hours: the same key and body answer the first response; the same key with another body is refused (IDEMPOTENCY.KEY_REUSED). After a day the key is forgotten and may be used again.',
        headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
        body: SubmitChangeRequestBodySchema,
        response: { 201: ChangeRequestViewSchema, ...problems },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const kind = principal.actor.kind;
      // A signed-in customer changes only their own record, through self-service; another id is "not found".
      if (kind === 'customer' && request.body.customerId !== principal.actor.id)
        return sendProblem(reply, request, {
          code: 'CUSTOMER.NOT_FOUND',
          message: `No customer has id ${request.body.customerId}.`,
        });
      const channel =
        request.body.channel ??
        (kind === 'integration' ? 'api' : kind === 'customer' ? 'self_service' : 'phone');
      const allowed =
        kind === 'integration'
          ? INTEGRATION_CHANNELS
          : kind === 'customer'
            ? SELF_SERVICE_CHANNELS
            : STAFF_CHANNELS;
      if (!allowed.includes(channel))
        return sendProblem(reply, request, {
          code: 'REQUEST.INVALID',
          message: `Channel "${channel}" is not available to you; use one of: ${allowed.join(', ')}.`,
          errors: [{ path: 'body.channel', message: `Use one of: ${allowed.join(', ')}.` }],
        });
      // Cards and IBANs go to the vault before anything else sees them; only tokens continue.
      const tokenised = await tokenisePaymentDetails(deps, request.body.changes);
      if (!tokenised.ok) return sendProblem(reply, request, tokenised.error);
      const key = request.headers['idempotency-key'];
      const result = await submitChangeRequest(
        deps,
        {
          customerId: request.body.customerId,
          changes: tokenised.value,
          channel,
          reason: request.body.reason ?? null,
          isSubmissionConfirmed: request.body.confirmSubmittedValues,
          requester: principal.actor,
          source: sourceOf(request),
          session: principal.session,
          idempotency: key
            ? {
                principal: principal.apiKeyId ?? principal.actor.id,
                key,
                requestHash: sha256Hex(canonicalJson(withoutPaymentNumbers(request.body, deps))),
              }
            : undefined,
        },
        (saved) => changeRequestView(saved, deps.policy),
      );
      if (!result.ok) return sendProblem(reply, request, result.error);
      if (result.value.isReplay) {
        reply.header('idempotent-replayed', 'true');
        return reply.code(result.value.status).send(result.value.body as never);
      }
      reply.header('etag', `"${result.value.request.version}"`);
      reply.header('location', `/api/v1/change-requests/${result.value.request.id}`);
      return reply.code(201).send(changeRequestView(result.value.request, deps.policy));
    },
  );

  api.get(
    '/api/v1/change-requests',
    {
      config: { action: 'change_request.list' },
      schema: {
        tags: ['change requests'],
        summary: 'List change requests, newest first',
        querystring: ChangeRequestListQuerySchema,
        response: { 200: pageOf(ChangeRequestViewSchema), ...problems },
      },
    },
    async (request) => {
      const page = await deps.store.listChangeRequests(request.query);
      return {
        items: page.items.map((item) => changeRequestView(item, deps.policy)),
        nextCursor: page.nextCursor,
      };
    },
  );

  api.get(
    '/api/v1/change-requests/:id',
    {
      config: { action: 'change_request.read' },
      schema: {
        tags: ['change requests'],
        summary: 'A change request with its timeline and propagation status',
        params: IdParamsSchema,
        response: { 200: ChangeRequestDetailSchema, ...problems },
      },
    },
    async (request, reply) => {
      const found = await deps.store.findChangeRequest(request.params.id);
      const isOwnOrStaff =
        found &&
        (request.principal!.actor.kind !== 'customer' || found.customerId === request.principal!.actor.id);
      if (!found || !isOwnOrStaff)
        return sendProblem(reply, request, {
          code: 'CHANGE_REQUEST.NOT_FOUND',
          message: `No change request has id ${request.params.id}.`,
        });
      const [audit, propagation] = await Promise.all([
        deps.store.listAudit({ changeRequestId: found.id, limit: 500 }),
        deps.store.outboxForChangeRequest(found.id),
      ]);
      reply.header('etag', `"${found.version}"`);
      return {
        ...changeRequestView(found, deps.policy),
        timeline: audit.entries.map(timelineEntry),
        propagation,
      };
    },
  );

  const command = <B extends z.ZodType>(
    verb: string,
    summary: string,
    body: B,
    action: Action,
    run: (id: string, request: FastifyRequest & { body: z.infer<B> }) => Promise<Result<ChangeRequest>>,
  ) =>
    api.post(
      `/api/v1/change-requests/:id/${verb}`,
      {
        config: { action },
        schema: {
          tags: ['change requests'],
          summary,
          params: IdParamsSchema,
          headers: IfMatchHeadersSchema,
          body,
          response: { 200: ChangeRequestViewSchema, ...problems },
        },
      },
      async (request, reply) =>
        answer(request, reply, await run((request.params as { id: string }).id, request as never)),
    );

  // Commands that need nothing but the caller and the body: the core decides, the shared use case persists.
  const decided = <B extends z.ZodType>(
    verb: string,
    summary: string,
    body: B,
    action: Action,
    toCommand: (by: Actor, body: z.infer<B>) => ChangeRequestCommand,
  ) =>
    command(verb, summary, body, action, async (id, request) => {
      const actor = request.principal!.actor;
      // A customer acts only on their own requests; another's answers "not found".
      if (actor.kind === 'customer' && (await deps.store.findChangeRequest(id))?.customerId !== actor.id)
        return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${id}.`);
      return runChangeRequestCommand(deps, id, actor, () => toCommand(actor, request.body), {
        expectedVersion: expectedVersionOf(request),
      });
    });

  command(
    'verify',
    'Record an identity check with its evidence (procedure step 2)',
    VerifyBodySchema,
    'change_request.verify',
    (id, request) =>
      verifyIdentity(deps, id, request.principal!.actor, request.body, expectedVersionOf(request)),
  );
  api.post(
    '/api/v1/change-requests/:id/knowledge-check',
    {
      config: { action: 'change_request.verify' },
      schema: {
        tags: ['change requests'],
        summary:
          "Check the customer's answer to one of their security questions (compared by Amend with the argon2id hash)",
        params: IdParamsSchema,
        body: z.strictObject({
          question: z.string().trim().min(1).max(200),
          answer: z.string().min(1).max(200),
        }),
        response: {
          200: ChangeRequestViewSchema.extend({ isCorrect: z.boolean() }),
          ...problems,
          423: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await checkKnowledgeAnswer(
        deps,
        request.params.id,
        request.principal!.actor,
        request.body.question,
        request.body.answer,
      );
      if (!result.ok) return sendProblem(reply, request, result.error);
      return { ...changeRequestView(result.value.request, deps.policy), isCorrect: result.value.isCorrect };
    },
  );

  api.post(
    '/api/v1/change-requests/:id/account-fact',
    {
      config: { action: 'change_request.verify' },
      schema: {
        tags: ['change requests'],
        summary:
          'Check a detail of the account the customer gave (date of birth, postcode on file, last 4 of the card) against the record',
        params: IdParamsSchema,
        body: z.strictObject({ fact: z.enum(ACCOUNT_FACTS), answer: z.string().trim().min(1).max(40) }),
        response: {
          200: ChangeRequestViewSchema.extend({ isCorrect: z.boolean() }),
          ...problems,
          423: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await checkAccountFactAnswer(
        deps,
        request.params.id,
        request.principal!.actor,
        request.body.fact,
        request.body.answer,
      );
      if (!result.ok) return sendProblem(reply, request, result.error);
      return { ...changeRequestView(result.value.request, deps.policy), isCorrect: result.value.isCorrect };
    },
  );

  api.post(
    '/api/v1/change-requests/:id/otp',
    {
      config: { action: 'change_request.verify' },
      schema: {
        tags: ['change requests'],
        summary: 'Send a one-time code to the email or phone on file (never to a value being requested)',
        params: IdParamsSchema,
        body: z.strictObject({ channel: z.enum(['email', 'sms']) }),
        response: {
          202: z.object({
            challengeId: z.string(),
            channel: z.enum(['email', 'sms']),
            sentTo: z.string(),
            expiresAt: z.string(),
          }),
          ...problems,
          423: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await sendOneTimeCode(
        deps,
        request.params.id,
        request.principal!.actor,
        request.body.channel,
      );
      return result.ok ? reply.code(202).send(result.value) : sendProblem(reply, request, result.error);
    },
  );

  api.post(
    '/api/v1/change-requests/:id/otp/check',
    {
      config: { action: 'change_request.verify' },
      schema: {
        tags: ['change requests'],
        summary:
          'Check the code the customer read out; a right one verifies, a wrong one counts toward the lockout',
        params: IdParamsSchema,
        body: z.strictObject({
          challengeId: z.uuid(),
          code: z.string().regex(/^\s*\d{6}\s*$/, 'The code has 6 digits.'),
        }),
        response: { 200: ChangeRequestViewSchema, ...problems, 423: ProblemSchema },
      },
    },
    async (request, reply) => {
      const result = await checkOneTimeCode(
        deps,
        request.params.id,
        request.principal!.actor,
        request.body.challengeId,
        request.body.code,
      );
      if (!result.ok) return sendProblem(reply, request, result.error);
      const view = changeRequestView(result.value.request, deps.policy);
      if (result.value.isCorrect) return reply.send(view);
      if (view.state === 'declined')
        return sendProblem(reply, request, {
          code: 'CUSTOMER.VERIFICATION_LOCKED',
          message:
            'Too many failed identity checks: the request is declined and changes are locked for a while.',
          alternatives: view.nextSteps,
          changeRequestId: view.id,
        });
      return sendProblem(reply, request, {
        code: 'OTP.WRONG_CODE',
        message: `That code is not right; ${result.value.attemptsLeft} tries left.`,
        attemptsLeft: result.value.attemptsLeft,
      });
    },
  );

  api.post(
    '/api/v1/change-requests/:id/recent-session',
    {
      config: { action: 'change_request.recent_session' },
      schema: {
        tags: ['self-service'],
        summary: 'Step up: attach a recent sign-in to your own pending request as its verification',
        params: IdParamsSchema,
        response: { 200: ChangeRequestViewSchema, ...problems },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const result = await attachRecentSession(deps, request.params.id, principal.actor, principal.session!);
      return result.ok
        ? changeRequestView(result.value, deps.policy)
        : sendProblem(reply, request, result.error);
    },
  );

  decided(
    'confirm',
    'Record that the requester confirmed the read-back values (procedure step 3.3)',
    ConfirmBodySchema,
    'change_request.confirm',
    (by, body) => ({ type: 'confirm_read_back', by, revision: body.revision }),
  );
  command(
    'edit',
    'Replace the requested changes; voids read-back and approval',
    EditBodySchema,
    'change_request.edit',
    (id, request) =>
      tokenisePaymentDetails(deps, request.body.changes).then((tokenised) =>
        tokenised.ok
          ? editChangeRequest(deps, id, request.principal!.actor, tokenised.value, expectedVersionOf(request))
          : tokenised,
      ),
  );
  decided(
    'approve',
    'Approve as a second person (procedure step 7.2); applies the change',
    ReasonBodySchema,
    'change_request.decide',
    (by, body) => ({ type: 'approve', by, reason: body.reason }),
  );
  decided(
    'reject',
    'Reject, returning the request to the requester with the reason',
    ReasonBodySchema,
    'change_request.decide',
    (by, body) => ({ type: 'reject', by, reason: body.reason }),
  );
  decided(
    'escalate',
    'Escalate to a team lead with a reason code (SOP escalation causes)',
    EscalateBodySchema,
    'change_request.escalate',
    (by, body) => ({ type: 'escalate', by, reason: body.reason, note: body.note }),
  );
  decided(
    'resolve',
    'Resolve an escalation: resume the flow or close the request',
    ResolveBodySchema,
    'change_request.decide',
    (by, body) => ({ type: 'resolve_escalation', by, resolution: body.resolution, note: body.note }),
  );
  command(
    'assign',
    'Give a queued request to a team lead or manager',
    AssignBodySchema,
    'change_request.decide',
    (id, request) =>
      assignChangeRequest(
        deps,
        id,
        request.principal!.actor,
        request.body.assigneeId,
        expectedVersionOf(request),
      ),
  );
  decided(
    'notes',
    'Add a working note to the request’s record',
    NoteBodySchema,
    'change_request.note',
    (by, body) => ({
      type: 'add_note',
      by,
      text: body.text,
    }),
  );

  api.get(
    '/api/v1/change-requests/:id/preview',
    {
      config: { action: 'change_request.preview' },
      schema: {
        tags: ['change requests'],
        summary:
          'What applying would write (old → new, normalised) and the verification evidence, for the approver',
        params: IdParamsSchema,
        response: { 200: PreviewSchema, ...problems },
      },
    },
    async (request, reply) => {
      const found = await deps.store.findChangeRequest(request.params.id);
      if (!found)
        return sendProblem(reply, request, {
          code: 'CHANGE_REQUEST.NOT_FOUND',
          message: `No change request has id ${request.params.id}.`,
        });
      const customer = await deps.store.findCustomer(found.customerId);
      if (!customer)
        return sendProblem(reply, request, {
          code: 'CUSTOMER.NOT_FOUND',
          message: `No customer has id ${found.customerId}.`,
        });
      const moved = new Set(conflictingFields(found, customer));
      return {
        changeRequestId: found.id,
        customerVersion: customer.version,
        state: found.state,
        tier: found.tier,
        changes: found.items.map((item) => ({
          field: item.field,
          current: customer[item.field] ?? null,
          proposed: item.proposed ?? null,
          hasMovedSinceReceived: moved.has(item.field),
        })),
        verifications: found.verifications.map(({ id: _id, ...verification }) => verification),
        readBack: found.readBack,
        approvalDueAt: found.approvalDueAt,
      };
    },
  );

  decided(
    'cancel',
    'Cancel a request not yet applied',
    ReasonBodySchema,
    'change_request.cancel',
    (by, body) => ({
      type: 'cancel',
      by,
      reason: body.reason,
    }),
  );
}
