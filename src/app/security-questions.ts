import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import { normaliseAnswer } from '../core/knowledge-fns.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { AnswerHasher, Store, UseCaseContext } from './ports.ts';
import { recordSystemVerification } from './record-system-verification.ts';
import { inTransaction } from './transaction-fns.ts';
import { checkVerificationLock } from './verification-lock.ts';

type Deps = UseCaseContext & { readonly store: Pick<Store, 'transaction'>; readonly answers: AnswerHasher };

const MIN_ANSWER_LENGTH = 2;

/** Sets a customer's security questions. Answers are normalised and hashed (argon2id) before the transaction. */
export async function setSecurityQuestions(
  deps: Deps,
  customerId: string,
  actor: Actor,
  questions: readonly { question: string; answer: string }[],
): Promise<Result<{ questions: string[] }>> {
  const normalised = questions.map((q) => ({
    question: q.question.trim().replace(/\s+/g, ' '),
    answer: normaliseAnswer(q.answer),
  }));
  const short = normalised.findIndex((q) => q.answer.length < MIN_ANSWER_LENGTH);
  if (short >= 0)
    return fail('REQUEST.INVALID', 'Each answer needs at least two letters or digits.', {
      errors: [{ path: `body.questions.${short}.answer`, message: 'Give a longer answer.' }],
    });
  if (new Set(normalised.map((q) => q.question.toLowerCase())).size !== normalised.length)
    return fail('REQUEST.INVALID', 'Ask each question once.', {
      errors: [{ path: 'body.questions', message: 'Remove the repeated question.' }],
    });
  // argon2id is deliberately slow: hash before the transaction, which must not hold heavy CPU work.
  const hashed = await Promise.all(
    normalised.map(async (q) => ({ question: q.question, answerHash: await deps.answers.hash(q.answer) })),
  );
  const now = deps.clock.now().toISOString();
  return inTransaction(deps.store, async (tx) => {
    if (!(await tx.lockCustomer(customerId)))
      return fail('CUSTOMER.NOT_FOUND', `No customer has id ${customerId}.`);
    await tx.setSecurityQuestions(customerId, hashed, now);
    await tx.appendAudit([
      {
        chain: customerId,
        occurredAt: now,
        actor,
        action: 'customer.security_questions_set',
        changeRequestId: null,
        details: { questions: hashed.map((q) => q.question) },
      },
    ]);
    return ok({ questions: hashed.map((q) => q.question) });
  });
}

/** Checks the customer's answer to one of their security questions; Amend records the outcome itself. */
export async function checkKnowledgeAnswer(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  question: string,
  answer: string,
): Promise<Result<{ isCorrect: boolean; request: ChangeRequest }>> {
  const existing = await deps.store.transaction((tx) => tx.findChangeRequest(changeRequestId));
  if (!existing) return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`);
  const stored = (await deps.store.transaction((tx) => tx.securityQuestions(existing.customerId))).find(
    (q) => q.question === question.trim().replace(/\s+/g, ' '),
  );
  if (!stored)
    return fail(
      'VERIFICATION.EVIDENCE_MISSING',
      'The customer has no such security question; ask one of theirs.',
      { question },
    );
  const isCorrect = await deps.answers.verify(stored.answerHash, normaliseAnswer(answer));
  const now = deps.clock.now().toISOString();
  return inTransaction<{ isCorrect: boolean; request: ChangeRequest }>(deps.store, async (tx) => {
    const request = await tx.lockChangeRequest(changeRequestId);
    if (!request) return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`);
    const unlocked = await checkVerificationLock(tx, request.customerId, now);
    if (!unlocked.ok) return unlocked;
    const saved = await recordSystemVerification(
      tx,
      request,
      { method: 'knowledge_check', isPassed: isCorrect, evidence: { question: stored.question } },
      actor,
      deps,
    );
    return saved.ok ? ok({ isCorrect, request: saved.value }) : saved;
  });
}
