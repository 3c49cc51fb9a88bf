import { decide } from '../core/change-request-fns.ts';
import { type Actor, type ChangeRequest, SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { phoneLineType } from '../core/field-validation-fns.ts';
import { maskFieldValue } from '../core/masking-fns.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { applyWhenReady, saveOutcome } from './change-request-flow.ts';
import { enforceVerificationLimit } from './enforce-verification-limit.ts';
import {
  decisionContext,
  type MailSender,
  type SmsSender,
  type Store,
  type UseCaseContext,
} from './ports.ts';
import { inTransaction } from './transaction-fns.ts';
import { checkVerificationLock } from './verification-lock.ts';

type Deps = UseCaseContext & {
  readonly store: Pick<Store, 'transaction'>;
  readonly mailer: MailSender;
  readonly sms: SmsSender;
};

export interface CodeSent {
  readonly challengeId: string;
  readonly channel: 'email' | 'sms';
  readonly sentTo: string;
  readonly expiresAt: string;
}

/**
 * Sends a one-time code to the email or phone *on file* (never to a value being requested), for procedure
 * step 2. The challenge is stored (code hashed) in a transaction; the message is sent after it commits.
 */
export async function sendOneTimeCode(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  channel: 'email' | 'sms',
): Promise<Result<CodeSent>> {
  const now = deps.clock.now();
  const code = deps.codes.newCode();
  const prepared = await inTransaction(deps.store, async (tx) => {
    const request = await tx.lockChangeRequest(changeRequestId);
    if (!request) return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`);
    if (request.state !== 'awaiting_verification')
      return fail(
        'CHANGE_REQUEST.ILLEGAL_TRANSITION',
        `Change request ${changeRequestId} is ${request.state}; codes are for requests awaiting verification.`,
      );
    const unlocked = await checkVerificationLock(tx, request.customerId, now.toISOString());
    if (!unlocked.ok) return unlocked;
    const customer = await tx.findCustomer(request.customerId);
    const destination = channel === 'email' ? customer?.email : customer?.phone;
    if (!destination)
      return fail(
        'OTP.NO_CONTACT_ON_FILE',
        `There is no ${channel === 'email' ? 'email address' : 'phone number'} on file to send a code to; use another method.`,
      );
    if (channel === 'sms' && phoneLineType(destination) === 'fixed_line')
      return fail(
        'OTP.NO_CONTACT_ON_FILE',
        'The number on file is a landline, which cannot receive texts; send the code by email or use another method.',
      );
    const sentTo = String(maskFieldValue(channel === 'email' ? 'email' : 'phone', destination));
    const challengeId = deps.ids.newId();
    const expiresAt = new Date(
      now.getTime() + deps.policy.verification.otpLifetimeMinutes * 60_000,
    ).toISOString();
    await tx.insertOtpChallenge({
      id: challengeId,
      changeRequestId,
      customerId: request.customerId,
      channel,
      destinationMasked: sentTo,
      codeHash: deps.codes.hash(challengeId, code),
      expiresAt,
      attempts: 0,
      usedAt: null,
      createdAt: now.toISOString(),
    });
    await tx.appendAudit([
      {
        chain: request.customerId,
        occurredAt: now.toISOString(),
        actor,
        action: 'verification.code_sent',
        changeRequestId,
        details: { channel, to: sentTo, challengeId, expiresAt },
      },
    ]);
    return ok({ sent: { challengeId, channel, sentTo, expiresAt }, destination });
  });
  if (!prepared.ok) return prepared;
  const minutes = deps.policy.verification.otpLifetimeMinutes;
  const text = `Your verification code is ${code}. It expires in ${minutes} minutes. Our team will ask you for it only during the call or chat you started; never share it otherwise.`;
  const delivered =
    channel === 'email'
      ? await deps.mailer.send({
          to: prepared.value.destination,
          subject: 'Your verification code',
          text,
          html: `<p>${text}</p>`,
          changeRequestId,
        })
      : await deps.sms.send({ to: prepared.value.destination, text });
  if (!delivered.ok)
    return fail(
      'SERVICE.UNAVAILABLE',
      `The code could not be sent (${delivered.error}); try again, or use another method.`,
    );
  return ok(prepared.value.sent);
}

export type CodeCheck =
  | { readonly isCorrect: true; readonly request: ChangeRequest }
  | { readonly isCorrect: false; readonly attemptsLeft: number; readonly request: ChangeRequest };

/**
 * Checks a code. Right: a passed `otp_on_file` verification, recorded by Amend itself. Wrong: a failed one
 * (audited, counted toward the lockout), committed even though the caller is told no.
 */
export async function checkOneTimeCode(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  challengeId: string,
  code: string,
): Promise<Result<CodeCheck>> {
  const now = deps.clock.now().toISOString();
  return inTransaction<CodeCheck>(deps.store, async (tx) => {
    const challenge = await tx.lockOtpChallenge(challengeId);
    const maxAttempts = deps.policy.verification.otpMaxAttempts;
    if (!challenge || challenge.changeRequestId !== changeRequestId)
      return fail('OTP.NOT_USABLE', 'No such code was sent for this request; ask for a new one.');
    if (challenge.usedAt || challenge.expiresAt <= now || challenge.attempts >= maxAttempts)
      return fail(
        'OTP.NOT_USABLE',
        'This code was used, has expired, or ran out of tries; ask for a new one.',
      );
    const request = await tx.lockChangeRequest(changeRequestId);
    const customer = request ? await tx.findCustomer(request.customerId) : null;
    if (!request || !customer)
      return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`);
    const isCorrect = deps.codes.matches(challengeId, code.trim(), challenge.codeHash);
    const attempts = challenge.attempts + 1;
    await tx.updateOtpChallenge(challengeId, { attempts, usedAt: isCorrect ? now : null });
    const destination = challenge.channel === 'email' ? customer.email : customer.phone;
    const recorded = decide(
      request,
      {
        type: 'record_verification',
        verification: {
          id: deps.ids.newId(),
          method: 'otp_on_file',
          outcome: isCorrect ? 'passed' : 'failed',
          evidence: {
            channel: challenge.channel,
            destination,
            challengeId,
            attempt: attempts,
            askedBy: actor.id,
          },
          recordedBy: SYSTEM_ACTOR,
          recordedAt: now,
        },
      },
      decisionContext(deps),
    );
    if (!recorded.ok) return recorded;
    const outcome = await applyWhenReady(tx, recorded.value, deps, actor);
    if (!outcome.ok) return outcome;
    const saved = await saveOutcome(tx, outcome.value, request.version, deps);
    if (!saved.ok) return saved;
    if (isCorrect) return ok({ isCorrect: true, request: saved.value });
    const enforced = await enforceVerificationLimit(tx, saved.value, deps);
    if (!enforced.ok) return enforced;
    return ok({
      isCorrect: false,
      attemptsLeft: Math.max(0, maxAttempts - attempts),
      request: enforced.value,
    });
  });
}
