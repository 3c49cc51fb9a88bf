import { type Actor, type ChangeRequest, SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { phoneLineType } from '../core/field-validation-fns.ts';
import { isRecentSignIn } from '../core/policy-fns.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { MailSender, SmsSender, Store, UseCaseContext } from './ports.ts';
import { recordSystemVerification } from './record-system-verification.ts';
import { inTransaction } from './transaction-fns.ts';

type Deps = UseCaseContext & {
  readonly store: Pick<Store, 'transaction'>;
  readonly mailer: MailSender;
  readonly sms: SmsSender;
};

const MINUTE_MS = 60_000;
/** Wrong codes one customer's sign-ins may take in the window, whatever the challenge or address. */
export const SIGN_IN_FAILURES_PER_CUSTOMER = 10;
const SIGN_IN_FAILURE_WINDOW_MS = 15 * MINUTE_MS;

/** Where the customer says they can receive a code: an email or a mobile number (E.164) on file. */
export type SignInContact = { readonly email: string } | { readonly phone: string };

/**
 * Starts a self-service sign-in: a code to the email or mobile on file. The answer is the same whether or not
 * the contact belongs to a customer (or is a landline), so the endpoint cannot be used to find out who is a
 * customer.
 */
export async function startCustomerSignIn(
  deps: Deps,
  contact: SignInContact,
): Promise<{ challengeId: string }> {
  const challengeId = deps.ids.newId();
  const now = deps.clock.now();
  const code = deps.codes.newCode();
  const customer = await deps.store.transaction(async (tx) => {
    const found = (
      await tx.listCustomers(
        'email' in contact ? { email: contact.email.trim(), limit: 2 } : { phone: contact.phone, limit: 2 },
      )
    ).items;
    if (found.length !== 1) return null;
    if ('phone' in contact && !['mobile', 'fixed_line_or_mobile'].includes(phoneLineType(contact.phone)))
      return null;
    const lockedUntil = await tx.verificationLockUntil(found[0]!.id, now.toISOString());
    if (lockedUntil) return null;
    await tx.insertSignInChallenge({
      id: challengeId,
      customerId: found[0]!.id,
      codeHash: deps.codes.hash(challengeId, code),
      expiresAt: new Date(
        now.getTime() + deps.policy.verification.otpLifetimeMinutes * MINUTE_MS,
      ).toISOString(),
      now: now.toISOString(),
    });
    return found[0]!;
  });
  const text = `Your sign-in code is ${code}. It expires in ${deps.policy.verification.otpLifetimeMinutes} minutes. If you did not try to sign in, ignore this message.`;
  if (customer && 'phone' in contact && customer.phone) await deps.sms.send({ to: customer.phone, text });
  else if (customer?.email)
    await deps.mailer.send({
      to: customer.email,
      subject: 'Your sign-in code',
      text,
      html: `<p>${text}</p>`,
      changeRequestId: null,
    });
  return { challengeId };
}

/** Completes a sign-in with the code: a short session whose token is answered once and stored only as a hash. */
export async function completeCustomerSignIn(
  deps: Deps,
  challengeId: string,
  code: string,
): Promise<Result<{ token: string; expiresAt: string; customerId: string }>> {
  const now = deps.clock.now();
  return inTransaction(deps.store, async (tx) => {
    const challenge = await tx.lockSignInChallenge(challengeId);
    const isUsable =
      challenge &&
      !challenge.usedAt &&
      challenge.expiresAt > now.toISOString() &&
      challenge.attempts < deps.policy.verification.otpMaxAttempts;
    if (!challenge || !isUsable)
      return fail(
        'OTP.NOT_USABLE',
        'This code was used, has expired, or ran out of tries; ask for a new one.',
      );
    // Per customer, across challenges and addresses: asking for new codes does not buy more guesses.
    const since = new Date(now.getTime() - SIGN_IN_FAILURE_WINDOW_MS).toISOString();
    if ((await tx.signInFailuresSince(challenge.customerId, since)) >= SIGN_IN_FAILURES_PER_CUSTOMER)
      return fail('REQUEST.RATE_LIMITED', 'Too many wrong codes for this account; try again later.', {
        retryAfterSeconds: SIGN_IN_FAILURE_WINDOW_MS / 1000,
      });
    const isCorrect = deps.codes.matches(challengeId, code.trim(), challenge.codeHash);
    await tx.updateSignInChallenge(challengeId, {
      attempts: challenge.attempts + 1,
      usedAt: isCorrect ? now.toISOString() : null,
    });
    if (!isCorrect) {
      // Committed on purpose: the failed try counts even though the caller is told no.
      return ok({ token: '', expiresAt: '', customerId: '' });
    }
    const { token, tokenHash } = deps.codes.newSessionToken();
    const expiresAt = new Date(
      now.getTime() + deps.policy.verification.customerSessionMinutes * MINUTE_MS,
    ).toISOString();
    await tx.insertCustomerSession({
      id: deps.ids.newId(),
      customerId: challenge.customerId,
      tokenHash,
      authenticatedAt: now.toISOString(),
      expiresAt,
    });
    await tx.appendAudit([
      {
        chain: challenge.customerId,
        occurredAt: now.toISOString(),
        actor: { kind: 'customer', id: challenge.customerId, role: 'customer' },
        action: 'customer.signed_in',
        changeRequestId: null,
        details: { channel: 'email', expiresAt },
      },
    ]);
    return ok({ token, expiresAt, customerId: challenge.customerId });
  });
}

/**
 * Step-up: a customer who signed in again recently attaches that sign-in to their own pending request as its
 * `recent_session` verification.
 */
export async function attachRecentSession(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  session: { id: string; authenticatedAt: string },
): Promise<Result<ChangeRequest>> {
  const now = deps.clock.now();
  if (
    !isRecentSignIn(session.authenticatedAt, now.toISOString(), deps.policy.verification.recentSessionMinutes)
  )
    return fail(
      'AUTH.UNAUTHENTICATED',
      `Your sign-in is more than ${deps.policy.verification.recentSessionMinutes} minutes old; sign in again to continue.`,
    );
  return inTransaction(deps.store, async (tx) => {
    const request = await tx.lockChangeRequest(changeRequestId);
    if (!request || request.customerId !== actor.id)
      return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`);
    return recordSystemVerification(
      tx,
      request,
      {
        method: 'recent_session',
        isPassed: true,
        evidence: { sessionId: session.id, authenticatedAt: session.authenticatedAt },
      },
      SYSTEM_ACTOR,
      deps,
    );
  });
}
