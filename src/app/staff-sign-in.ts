import { recordEntry } from '../core/audit-draft-fns.ts';
import type { AuditEntryDraft } from '../core/audit-types.ts';
import { type Actor, type Role, SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import {
  isStaffSessionLive,
  lockedUntilAfterFailures,
  passwordProblem,
  STAFF_SESSION,
  shouldTouchStaffSession,
} from '../core/staff-session-fns.ts';
import type {
  ApiKeyIssuer,
  Clock,
  IdSource,
  StaffCredentialKit,
  StaffSession,
  StaffUser,
  Store,
} from './ports.ts';

type Deps = {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly credentials: StaffCredentialKit;
};

/** Staff security events go on one audit chain per staff member, beside the customers' chains. */
const staffChain = (userId: string) => `staff:${userId}`;

const securityEntry = (
  userId: string,
  action: string,
  at: string,
  actor: Actor,
  details: Record<string, unknown>,
): AuditEntryDraft => recordEntry(staffChain(userId), action, at, actor, details);

export interface StaffSignedIn {
  readonly token: string;
  readonly csrfToken: string;
  readonly user: StaffUser;
  readonly idleMinutes: number;
  readonly absoluteExpiresAt: string;
}

/**
 * Staff sign-in: email, password (argon2id) and a TOTP code. Every failure answers the same way, whatever was
 * wrong; after five in a row the account locks with back-off (1, 2, 4 … minutes, at most an hour), and a code
 * already used cannot be used again. Success and failure are both audited.
 */
export async function signInStaff(
  deps: Deps,
  input: { email: string; password: string; code: string; address: string | null },
): Promise<Result<StaffSignedIn>> {
  const now = deps.clock.now();
  const at = now.toISOString();
  const found = await deps.store.findStaffCredentials(input.email);
  if (found?.lockedUntil && Date.parse(found.lockedUntil) > now.getTime())
    return fail('AUTH.LOCKED_OUT', 'Too many failed sign-ins: this account is locked for a while.', {
      retryAfterSeconds: Math.ceil((Date.parse(found.lockedUntil) - now.getTime()) / 1000),
    });
  const isPasswordRight = await deps.credentials.verifyPassword(found?.passwordHash ?? null, input.password);
  const step =
    found?.totpSecret && isPasswordRight
      ? deps.credentials.totpStep(found.totpSecret, input.code, now)
      : null;
  const isReplay = step !== null && found?.totpLastStep !== null && step <= (found?.totpLastStep ?? -1);
  if (!found || !isPasswordRight || step === null || isReplay) {
    if (found) {
      const failures = found.failedSignIns + 1;
      const lockedUntil = lockedUntilAfterFailures(failures, now);
      await deps.store.transaction(async (tx) => {
        await tx.updateStaffSignInState(found.user.id, { failedSignIns: failures, lockedUntil });
        await tx.appendAudit([
          securityEntry(found.user.id, 'staff.sign_in_failed', at, SYSTEM_ACTOR, {
            failures,
            lockedUntil,
            address: input.address,
          }),
        ]);
      });
    }
    return fail('AUTH.SIGN_IN_FAILED', 'The email, password or code is not right.');
  }
  const session = deps.credentials.newToken('sst');
  const csrf = deps.credentials.newToken('csrf');
  const absoluteExpiresAt = new Date(now.getTime() + STAFF_SESSION.absoluteHours * 3_600_000).toISOString();
  const sessionId = deps.ids.newId();
  await deps.store.transaction(async (tx) => {
    await tx.updateStaffSignInState(found.user.id, {
      failedSignIns: 0,
      lockedUntil: null,
      totpLastStep: step,
    });
    await tx.insertStaffSession({
      id: sessionId,
      staffUserId: found.user.id,
      tokenHash: session.tokenHash,
      csrfHash: csrf.tokenHash,
      now: at,
      absoluteExpiresAt,
    });
    await tx.appendAudit([
      securityEntry(found.user.id, 'staff.signed_in', at, staffActor(found.user), {
        sessionId,
        address: input.address,
      }),
    ]);
  });
  return ok({
    token: session.token,
    csrfToken: csrf.token,
    user: found.user,
    idleMinutes: STAFF_SESSION.idleMinutes,
    absoluteExpiresAt,
  });
}

export const staffActor = (user: StaffUser): Actor => ({ kind: 'staff', id: user.id, role: user.role });

/** The live session for a token: unknown, revoked, idle too long or past its absolute end answers null. */
export async function resolveStaffSession(
  deps: {
    readonly store: Pick<Store, 'findStaffSession' | 'touchStaffSession'>;
    readonly clock: Clock;
    readonly credentials: Pick<StaffCredentialKit, 'tokenHash'>;
  },
  token: string,
): Promise<StaffSession | null> {
  const session = await deps.store.findStaffSession(deps.credentials.tokenHash(token));
  const now = deps.clock.now();
  if (!session || !isStaffSessionLive(session, now)) return null;
  if (shouldTouchStaffSession(session.lastSeenAt, now))
    await deps.store.touchStaffSession(session.id, now.toISOString());
  return session;
}

/** Signs out this session, or (`everywhere`) every session of the staff member. */
export async function signOutStaff(
  deps: Pick<Deps, 'store' | 'clock'>,
  session: { id: string; user: StaffUser },
  everywhere: boolean,
): Promise<number> {
  const at = deps.clock.now().toISOString();
  return deps.store.transaction(async (tx) => {
    const revoked = await tx.revokeStaffSessions(
      everywhere ? { staffUserId: session.user.id } : { sessionId: session.id },
      at,
    );
    await tx.appendAudit([
      securityEntry(
        session.user.id,
        everywhere ? 'staff.signed_out_everywhere' : 'staff.signed_out',
        at,
        staffActor(session.user),
        { sessions: revoked },
      ),
    ]);
    return revoked;
  });
}

/** Changes a staff member's own password; every other session of theirs ends. */
export async function changeStaffPassword(
  deps: Deps,
  session: { id: string; user: StaffUser },
  input: { currentPassword: string; newPassword: string },
): Promise<Result<{ otherSessionsEnded: number }>> {
  const found = await deps.store.findStaffCredentials(session.user.email);
  if (!found || !(await deps.credentials.verifyPassword(found.passwordHash, input.currentPassword)))
    return fail('AUTH.SIGN_IN_FAILED', 'The current password is not right.');
  const problem = passwordProblem(input.newPassword, session.user.email);
  if (problem)
    return fail('REQUEST.INVALID', problem, { errors: [{ path: 'body.newPassword', message: problem }] });
  const passwordHash = await deps.credentials.hashPassword(input.newPassword);
  const at = deps.clock.now().toISOString();
  return ok(
    await deps.store.transaction(async (tx) => {
      await tx.setStaffCredentials(session.user.id, { passwordHash });
      const ended = await tx.revokeStaffSessions(
        { staffUserId: session.user.id, exceptSessionId: session.id },
        at,
      );
      await tx.appendAudit([
        securityEntry(session.user.id, 'staff.password_changed', at, staffActor(session.user), {
          otherSessionsEnded: ended,
        }),
      ]);
      return { otherSessionsEnded: ended };
    }),
  );
}

export interface EnrolledStaffMember {
  readonly user: StaffUser;
  /** Shown once: the member signs in with it and changes it. */
  readonly initialPassword: string;
  /** Shown once: an otpauth:// URI for an authenticator app, and its secret. */
  readonly totpUri: string;
  readonly totpSecret: string;
  readonly apiKey: string;
}

/**
 * Adds a staff member who can sign in: a random initial password and a TOTP secret, both shown once. They also
 * get a personal API key for scripts and tools, revocable like any other (see SECURITY.md).
 */
export async function enrolStaffMember(
  deps: Deps & { readonly keys: ApiKeyIssuer },
  input: { email: string; displayName: string; role: Role },
  by: Actor = SYSTEM_ACTOR,
): Promise<Result<EnrolledStaffMember>> {
  const email = input.email.trim().toLowerCase();
  if (await deps.store.findStaffCredentials(email))
    return fail('STAFF.EMAIL_TAKEN', `A staff member already has the email ${email}.`);
  const now = deps.clock.now().toISOString();
  const user: StaffUser = { id: deps.ids.newId(), email, displayName: input.displayName, role: input.role };
  const initialPassword = deps.credentials.newPassword();
  const totpSecret = deps.credentials.newTotpSecret();
  const passwordHash = await deps.credentials.hashPassword(initialPassword);
  const { key, keyHash } = deps.keys.issue();
  await deps.store.transaction(async (tx) => {
    await tx.insertStaffUser(user, now);
    await tx.setStaffCredentials(user.id, { passwordHash, totpSecret });
    await tx.insertApiKey(
      {
        id: deps.ids.newId(),
        name: `${input.displayName} (${input.role})`,
        role: input.role,
        staffUserId: user.id,
        keyHash,
      },
      now,
    );
    await tx.appendAudit([securityEntry(user.id, 'staff.enrolled', now, by, { role: user.role })]);
  });
  return ok({
    user,
    initialPassword,
    totpSecret,
    totpUri: deps.credentials.totpUri(totpSecret, email),
    apiKey: key,
  });
}
