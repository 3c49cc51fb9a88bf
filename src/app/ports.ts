import type { Activity, AnomalyFlagDraft } from '../core/anomaly-fns.ts';
import type {
  AuditCheckpoint,
  AuditEntry,
  AuditEntryDraft,
  AuditLogScan,
  ChainHead,
} from '../core/audit-types.ts';
import type { BusinessCalendar } from '../core/business-day-fns.ts';
import type { Actor, ChangeRequest, ChangeRequestState, Role } from '../core/change-request-types.ts';
import type { SupportContact } from '../core/confirmation-fns.ts';
import type { Customer } from '../core/customer-types.ts';
import type { Policy, Severity } from '../core/policy-types.ts';
import type { ReviewFacts } from '../core/procedure-review-fns.ts';

/** What the shell must provide to the use cases. Each use case asks for a `Pick` of what it uses. */

export interface Clock {
  now(): Date;
}

export interface IdSource {
  /** A new UUIDv7: time-ordered, so ids index and page in creation order. */
  newId(): string;
}

export interface AuditSigner {
  readonly keyId: string;
  sign(text: string): string;
  verify(text: string, signature: string, keyId: string): boolean;
}

/**
 * The tables whose rows hold values sealed with the data key, which `amend keys rotate` re-encrypts: customers'
 * fields, change requests' values and free text, outbox payloads, manual tasks' values, staff TOTP secrets.
 * Audit entries are append-only and stay under the key they were written with.
 */
export type SealedRecords = 'customer' | 'change_request' | 'outbox' | 'manual_task' | 'staff_user';

export interface ResealBatch {
  readonly examined: number;
  readonly resealed: number;
  readonly last: string | null;
}

export interface StoredAuditEntry extends AuditEntry {
  readonly id: number;
}

export interface ChangeRequestWrite {
  readonly request: ChangeRequest;
  readonly expectedVersion: number | null;
  readonly applied: {
    readonly customer: Customer;
    readonly expectedVersion: number;
    readonly messages: readonly OutboxMessage[];
    /** When the messages fall due. */
    readonly now: string;
  } | null;
  /** Audit entries for what the write records, appended with it: written if and only if it is. */
  readonly audit?: readonly AuditEntryDraft[];
}

export type ChangeRequestWritten = 'written' | 'request_moved' | 'customer_moved';

export interface OutboxMessage {
  /** `propagation` to a connected system, `confirmation` mail to the customer (destination `mail`). */
  readonly kind: 'propagation' | 'confirmation';
  readonly destination: string;
  readonly customerId: string;
  readonly changeRequestId: string | null;
  /** Per customer, increasing: the customer's version after the change. Receivers use it to order. */
  readonly sequence: number;
  readonly payload: Record<string, unknown>;
  /** A legal deadline for the delivery (withdrawn consent to a marketing system), if any. */
  readonly deadlineAt: string | null;
}

export interface ClaimedOutboxMessage extends OutboxMessage {
  readonly id: number;
  readonly attempts: number;
  readonly driftCount: number;
  readonly createdAt: string;
}

export type OutboxState = 'pending' | 'delivered' | 'dead';
export type Confirmation = 'read_back' | 'acknowledged' | 'attested';

/** Applied changes that share their review facts; `facts` null when the audit log names a request that is gone. */
export interface ReviewGroup {
  readonly key: string;
  readonly facts: ReviewFacts | null;
  readonly appliedChanges: number;
}

export interface ReviewGroupMember {
  readonly key: string;
  readonly changeRequestId: string;
  readonly customerId: string | null;
}

export interface OutboxStatus {
  readonly id: number;
  readonly kind: 'propagation' | 'confirmation';
  readonly destination: string;
  readonly customerId: string;
  readonly changeRequestId: string | null;
  readonly status: OutboxState;
  readonly attempts: number;
  readonly driftCount: number;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly deliveredAt: string | null;
  readonly confirmedAt: string | null;
  readonly confirmation: Confirmation | null;
  readonly deadlineAt: string | null;
  readonly deadlineBreachedAt: string | null;
}

/** Work for a person: enter these values in a connected system that has no API, then attest it. */
export interface ManualTask {
  readonly id: string;
  readonly outboxId: number;
  readonly system: string;
  readonly customerId: string;
  readonly changeRequestId: string | null;
  readonly values: Record<string, unknown>;
  readonly status: 'open' | 'done';
  readonly createdAt: string;
  readonly attestedBy: Actor | null;
  readonly attestedAt: string | null;
  readonly evidence: string | null;
}

export interface StaffUser {
  readonly id: string;
  readonly email: string;
  readonly displayName: string;
  readonly role: Role;
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly staffUserId: string | null;
  /** The actions (docs/roles.md) the key is limited to; null means all its role allows. */
  readonly scopes: readonly string[] | null;
}

export interface ApiKeySummary extends ApiKeyRecord {
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

/** What sign-in needs about a staff member; the TOTP secret is opened by the store (sealed at rest). */
export interface StaffCredentials {
  readonly user: StaffUser;
  readonly passwordHash: string | null;
  readonly totpSecret: string | null;
  readonly totpLastStep: number | null;
  readonly failedSignIns: number;
  readonly lockedUntil: string | null;
}

export interface StaffSession {
  readonly id: string;
  readonly user: StaffUser;
  readonly csrfHash: string;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly absoluteExpiresAt: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export interface AuditQuery {
  readonly chain?: string | undefined;
  readonly changeRequestId?: string | undefined;
  readonly action?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly limit: number;
  readonly after?: number | undefined;
}

/** The first response to a request sent with an `Idempotency-Key`, answered again to its retries. */
export interface StoredResponse {
  readonly requestHash: string;
  readonly status: number;
  readonly body: unknown;
}

/** A message delivered at `at`: confirmed too, unless `confirmation` is null. */
export interface OutboxDelivery {
  readonly id: number;
  readonly at: string;
  readonly confirmation: Confirmation | null;
}

/** A request waiting for its deliveries of one kind to be confirmed before it moves on. */
export interface WaitingRequest {
  readonly changeRequestId: string;
  readonly kind: 'propagation' | 'confirmation';
}

/** Storage as the use cases see it. Every write happens inside `transaction`. */
export interface NotMeLinkDraft {
  readonly id: string;
  readonly changeRequestId: string;
  readonly customerId: string;
  readonly now: string;
  readonly expiresAt: string;
}

export interface AnomalyHistoryQuery {
  readonly customerId: string;
  readonly since: string;
  /**
   * An intake's sources (none for other activities): each is recorded as touching the customer at `at`, and
   * answered with the distinct customers it touched since `since`, this one included, counted up to `cap`.
   */
  readonly touch: {
    readonly sources: readonly string[];
    readonly at: string;
    readonly since: string;
    readonly cap: number;
  };
}

export interface AnomalyHistoryRead {
  /** The customer's activity, oldest first. */
  readonly activity: Activity[];
  readonly customersBySource: Map<string, number>;
  /** Open flags whose customer is this one or whose subject is this customer or one of the sources. */
  readonly openFlags: AnomalyFlag[];
}

export interface Store {
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T>;
  /** Reads that must agree with each other, in one read-only snapshot (repeatable read). */
  snapshot<T>(work: (tx: Store) => Promise<T>): Promise<T>;

  findCustomer(id: string): Promise<Customer | null>;
  findCustomers(ids: readonly string[]): Promise<Customer[]>;
  /** Reads and locks the customer row until the transaction ends. */
  lockCustomer(id: string): Promise<Customer | null>;
  /** `lockCustomer` and `verificationLockUntil` in one round trip, for an intake. */
  lockCustomerForChange(
    id: string,
    now: string,
  ): Promise<{ customer: Customer; verificationLockedUntil: string | null } | null>;
  insertCustomers(customers: readonly Customer[]): Promise<void>;
  /**
   * Seals with the current key up to `limit` rows of `records` after `after` (by id) that hold a value in clear
   * or under an older key (key rotation); `last` is the id to go on after, null at the end of the table. A row
   * changed since it was read is left for the next pass.
   */
  resealRecords(records: SealedRecords, limit: number, after: string | null): Promise<ResealBatch>;
  /** How many rows of `records` hold a value not yet sealed with the current key. */
  countRecordsToReseal(records: SealedRecords): Promise<number>;
  /** Other customers holding this email (case-insensitive) or phone: a contact point must identify one customer. */
  customersWithContact(
    contact: { email?: string | undefined; phone?: string | undefined },
    exceptCustomerId: string,
  ): Promise<string[]>;
  listCustomers(query: {
    limit: number;
    after?: string | undefined;
    email?: string | undefined;
    /** E.164. */
    phone?: string | undefined;
  }): Promise<Page<Customer>>;
  countCustomers(): Promise<number>;
  /** A customer sealed under data key `keyId`, if any: opening it proves this process holds the same key. */
  anyCustomerSealedUnder(keyId: string): Promise<Customer | null>;

  findChangeRequest(id: string): Promise<ChangeRequest | null>;
  lockChangeRequest(id: string): Promise<ChangeRequest | null>;
  /** Locks the requests that exist among `ids`, in id order (so two callers cannot deadlock). */
  lockChangeRequests(ids: readonly string[]): Promise<ChangeRequest[]>;
  /**
   * A change request's outcome, in one round trip: the request, inserted (`expectedVersion` null) or updated if
   * still at `expectedVersion`; then, only if that held, the change it applies: the customer, if still at its
   * expected version, and the messages that carry the change to the connected systems. Answers the first guard
   * that failed; the caller then rolls its transaction back, so nothing of it is kept.
   */
  writeChangeRequest(write: ChangeRequestWrite): Promise<ChangeRequestWritten>;
  updateChangeRequest(request: ChangeRequest, expectedVersion: number): Promise<boolean>;
  /** `updateChangeRequest` for many in one statement; answers how many were still at their expected version. */
  updateChangeRequests(
    updates: readonly { request: ChangeRequest; expectedVersion: number }[],
  ): Promise<number>;
  listChangeRequests(query: {
    state?: ChangeRequestState | undefined;
    customerId?: string | undefined;
    limit: number;
    after?: string | undefined;
  }): Promise<Page<ChangeRequest>>;

  listApprovalQueue(query: {
    tier?: string | undefined;
    isOverdue?: boolean | undefined;
    assigneeId?: string | undefined;
    now: string;
    limit: number;
    after?: string | undefined;
  }): Promise<Page<ChangeRequest>>;
  listEscalationQueue(query: {
    reason?: string | undefined;
    assigneeId?: string | undefined;
    isUnassigned?: boolean | undefined;
    limit: number;
    after?: string | undefined;
  }): Promise<Page<ChangeRequest>>;
  /** Ids of requests whose time ran out at `now`: expired pending requests, and approvals past their deadline. */
  listDueChangeRequests(now: string, limit: number): Promise<{ expired: string[]; overdue: string[] }>;

  appendAudit(drafts: readonly AuditEntryDraft[]): Promise<AuditEntry[]>;
  /** Appends the first entries of chains nobody has written to (new customers'); fails if one exists. */
  openAuditChains(drafts: readonly AuditEntryDraft[]): Promise<AuditEntry[]>;
  /** An entry with its sealed values opened (see AuditEntryDraft): for the audited "read full values" action. */
  findAuditEntryValues(
    id: number,
  ): Promise<{ entry: StoredAuditEntry; values: Readonly<Record<string, unknown>> } | null>;
  /** Every entry of one chain in order, sealed values opened: for a data subject's export only. */
  openedAuditTrail(chain: string): Promise<StoredAuditEntry[]>;
  listAudit(query: AuditQuery): Promise<{ entries: StoredAuditEntry[]; nextCursor: number | null }>;
  /** The whole log checked by the database in one snapshot (a repeatable-read transaction of its own). */
  scanAuditLog(faultLimit: number): Promise<AuditLogScan>;
  lockCheckpoints(): Promise<AuditCheckpoint | null>;
  movedChainHeads(limit: number): Promise<ChainHead[]>;
  insertCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;

  enqueueOutbox(messages: readonly OutboxMessage[], now: string): Promise<void>;
  /** Leases up to `limit` due messages, each the oldest undelivered one of its customer and destination. */
  claimOutbox(options: {
    owner: string;
    limit: number;
    now: string;
    leaseMs: number;
  }): Promise<ClaimedOutboxMessage[]>;
  /**
   * Marks each message delivered (and, unless its `confirmation` is null, confirmed) where this worker still
   * holds the lease, in one statement for a whole batch; answers the ids it marked.
   */
  markOutboxDelivered(owner: string, deliveries: readonly OutboxDelivery[]): Promise<Set<number>>;
  /** Schedules a retry at `retryAt`, or dead-letters when null; `isDrift` counts a read-back mismatch. */
  markOutboxFailed(
    id: number,
    owner: string,
    failure: { error: string; retryAt: string | null; isDrift?: boolean },
  ): Promise<boolean>;
  confirmOutbox(id: number, now: string, confirmation: Confirmation): Promise<void>;
  findOutbox(id: number): Promise<OutboxStatus | null>;
  outboxForChangeRequest(changeRequestId: string): Promise<OutboxStatus[]>;
  /** The outbox messages of these change requests, oldest first: one read for many. */
  outboxForChangeRequests(changeRequestIds: readonly string[]): Promise<OutboxStatus[]>;
  /** Of these requests, those with deliveries of the given kind, every one of them confirmed: one read per batch. */
  fullyConfirmed(candidates: readonly WaitingRequest[]): Promise<WaitingRequest[]>;
  /**
   * Requests left behind in `propagating` or `consistent`, untouched since `updatedBefore`, whose deliveries
   * of the kind that moves them on are all confirmed: a worker died between confirming the last one and
   * moving the request.
   */
  strandedChangeRequests(updatedBefore: string, limit: number): Promise<WaitingRequest[]>;
  listDeadLetters(query: {
    destination?: string | undefined;
    limit: number;
    after?: number | undefined;
  }): Promise<{ items: OutboxStatus[]; nextCursor: number | null }>;
  /**
   * Puts a dead letter back in the queue in its own place in the order: as it was, or with `replacement`
   * (the customer's current values). False if it is not dead.
   */
  requeueDeadLetter(
    id: number,
    now: string,
    /** A payload of current values, sealed to `customerId`, which must be the row's customer. */
    replacement?: { customerId: string; payload: Record<string, unknown>; sequence: number },
  ): Promise<boolean>;
  /** Marks and answers deliveries whose legal deadline passed unconfirmed. */
  flagDeadlineBreaches(now: string, limit: number): Promise<OutboxStatus[]>;

  /** /metrics' backlog gauges: unfinished requests, the outbox, open flags. Cheap at any size. */
  metricsBacklog(): Promise<MetricsBacklog>;
  /** /metrics' all-time figures: finished requests, failed checks, processing time. Reads the history. */
  metricsHistory(processingBucketsSeconds: readonly number[]): Promise<MetricsHistory>;
  /** The month's figures for the report, aggregated by the database. */
  monthlyFigures(from: string, to: string): Promise<MonthlyFigures>;
  /** Records a manager's quality review of a completed request; false if it was reviewed already. */
  recordQualityReview(review: {
    changeRequestId: string;
    by: Actor;
    at: string;
    hasError: boolean;
    note: string | null;
  }): Promise<boolean>;
  /** A random sample of the period's completed requests not yet reviewed. */
  qualitySample(from: string, to: string, size: number): Promise<string[]>;
  /**
   * The changes whose `applied` audit entry falls in [from, to), in groups that share what the completeness
   * review asks of them; deliveries count to `systems` only.
   */
  reviewGroups(from: string, to: string, systems: readonly string[]): Promise<ReviewGroup[]>;
  /** The changes of the groups with these keys, in the order they were applied. */
  reviewGroupMembers(
    from: string,
    to: string,
    systems: readonly string[],
    keys: readonly string[],
  ): Promise<ReviewGroupMember[]>;
  /** Replaces a customer's security questions (answers already hashed). */
  setSecurityQuestions(
    customerId: string,
    questions: readonly { question: string; answerHash: string }[],
    at: string,
  ): Promise<void>;
  securityQuestions(customerId: string): Promise<{ question: string; answerHash: string; setAt: string }[]>;
  /** The development vault's record of a token (never the card number or full IBAN). */
  insertSignInChallenge(challenge: {
    id: string;
    customerId: string;
    codeHash: string;
    expiresAt: string;
    now: string;
  }): Promise<void>;
  /** Wrong sign-in codes tried for a customer since `since`, across all their challenges. */
  signInFailuresSince(customerId: string, since: string): Promise<number>;
  lockSignInChallenge(id: string): Promise<{
    id: string;
    customerId: string;
    codeHash: string;
    expiresAt: string;
    attempts: number;
    usedAt: string | null;
  } | null>;
  updateSignInChallenge(id: string, changes: { attempts: number; usedAt: string | null }): Promise<void>;
  insertCustomerSession(session: {
    id: string;
    customerId: string;
    tokenHash: string;
    authenticatedAt: string;
    expiresAt: string;
  }): Promise<void>;
  /** An unexpired session by its token's hash. */
  findCustomerSession(
    tokenHash: string,
    now: string,
  ): Promise<{ id: string; customerId: string; authenticatedAt: string; expiresAt: string } | null>;
  insertVaultToken(entry: {
    token: string;
    kind: 'card' | 'bank_account';
    brand?: string;
    last4?: string;
    expiryMonth?: number;
    expiryYear?: number;
    maskedIban?: string;
    at: string;
  }): Promise<void>;
  insertIdentityDocument(document: SealedDocument): Promise<void>;
  findIdentityDocument(id: string): Promise<SealedDocument | null>;
  /** Records the review of a document not yet reviewed; false if it was reviewed already. */
  reviewIdentityDocument(id: string, review: DocumentReview): Promise<boolean>;
  insertOtpChallenge(challenge: OtpChallenge): Promise<void>;
  lockOtpChallenge(id: string): Promise<OtpChallenge | null>;
  updateOtpChallenge(id: string, changes: { attempts: number; usedAt: string | null }): Promise<void>;
  /** The time until which the customer's changes are locked after failed checks, or null. */
  verificationLockUntil(customerId: string, now: string): Promise<string | null>;
  lockVerification(customerId: string, until: string, failures: number): Promise<void>;
  /** What the anomaly rules need from a customer's audit chain since `since`, oldest first. */
  customerActivity(customerId: string, since: string): Promise<Activity[]>;
  /**
   * The anomaly rules' history for one activity, in one round trip: the customer's activity since `since`; the
   * sources recorded as touching the customer and counted (see `AnomalyHistoryQuery`); the open flags on the
   * customer or on those sources.
   */
  anomalyHistory(query: AnomalyHistoryQuery): Promise<AnomalyHistoryRead>;
  /** Forgets source touches older than `before`; answers how many. */
  pruneSourceTouches(before: string): Promise<number>;
  /** Inserts flags, skipping any whose rule and subject already have an open flag; answers those inserted. */
  recordAnomalyFlags(flags: readonly AnomalyFlag[]): Promise<AnomalyFlag[]>;
  openAnomalyFlags(customerId: string, severities: readonly Severity[]): Promise<AnomalyFlag[]>;
  listAnomalyFlags(query: {
    status?: AnomalyFlag['status'] | undefined;
    severity?: Severity | undefined;
    rule?: string | undefined;
    customerId?: string | undefined;
    limit: number;
    after?: string | undefined;
  }): Promise<Page<AnomalyFlag>>;
  reviewAnomalyFlag(
    id: string,
    review: { status: 'dismissed' | 'confirmed'; by: Actor; at: string; reason: string },
  ): Promise<AnomalyFlag | null>;

  insertNotMeLinks(links: readonly NotMeLinkDraft[]): Promise<void>;
  /** Marks a link used if it is unused and unexpired; answers what stopped it otherwise. */
  useNotMeLink(
    id: string,
    now: string,
  ): Promise<{
    outcome: 'used' | 'unknown' | 'already_used' | 'expired';
    changeRequestId?: string;
    customerId?: string;
  }>;
  openSecurityCase(securityCase: SecurityCase): Promise<void>;
  findSecurityCase(id: string): Promise<SecurityCase | null>;
  lockSecurityCase(id: string): Promise<SecurityCase | null>;
  updateSecurityCase(securityCase: SecurityCase): Promise<void>;
  listSecurityCases(query: {
    status?: 'open' | 'resolved' | undefined;
    customerId?: string | undefined;
    limit: number;
    after?: string | undefined;
  }): Promise<Page<SecurityCase>>;
  /** Sets or lifts the freeze on a customer record (not a data change: the version stays). */
  setCustomerFreeze(
    customerId: string,
    freeze: { caseId: string; frozenAt: string; reason: string } | null,
  ): Promise<void>;
  catchMail(mail: CaughtMail): Promise<void>;
  listCaughtMail(query: {
    recipient?: string | undefined;
    changeRequestId?: string | undefined;
    limit: number;
    after?: string | undefined;
  }): Promise<Page<CaughtMail>>;

  createManualTask(task: {
    id: string;
    outboxId: number;
    system: string;
    customerId: string;
    changeRequestId: string | null;
    values: Record<string, unknown>;
    now: string;
  }): Promise<void>;
  listManualTasks(query: {
    status?: 'open' | 'done' | undefined;
    system?: string | undefined;
    limit: number;
    after?: string | undefined;
  }): Promise<Page<ManualTask>>;
  /** Completes an open task; answers it, or null if there is no open task with this id. */
  attestManualTask(id: string, by: Actor, now: string, evidence: string | null): Promise<ManualTask | null>;

  /**
   * Stores the response to an idempotent request, unless the key already holds one: then answers that one and
   * stores nothing. A concurrent request with the same key waits here until the first one's transaction ends.
   */
  storeIdempotentResponse(response: {
    principal: string;
    key: string;
    requestHash: string;
    status: number;
    body: unknown;
    now: string;
  }): Promise<StoredResponse | null>;
  findIdempotentResponse(principal: string, key: string): Promise<StoredResponse | null>;
  /** Deletes up to `limit` stored responses made before `before`, oldest first; answers how many. */
  pruneIdempotentResponses(before: string, limit: number): Promise<number>;

  findStaffUser(id: string): Promise<StaffUser | null>;
  findStaffCredentials(email: string): Promise<StaffCredentials | null>;
  updateStaffSignInState(
    userId: string,
    state: { failedSignIns: number; lockedUntil: string | null; totpLastStep?: number },
  ): Promise<void>;
  setStaffCredentials(
    userId: string,
    credentials: { passwordHash: string; totpSecret?: string },
  ): Promise<void>;
  insertStaffSession(session: {
    id: string;
    staffUserId: string;
    tokenHash: string;
    csrfHash: string;
    now: string;
    absoluteExpiresAt: string;
  }): Promise<void>;
  /** The session with this token hash unless revoked (idle and absolute limits are the caller's rule). */
  findStaffSession(tokenHash: string): Promise<StaffSession | null>;
  touchStaffSession(id: string, at: string): Promise<void>;
  /** Revokes one session, or every session of a staff member (optionally but one); answers how many. */
  revokeStaffSessions(
    which: { sessionId: string } | { staffUserId: string; exceptSessionId?: string },
    at: string,
  ): Promise<number>;
  listApiKeys(): Promise<ApiKeySummary[]>;
  revokeApiKey(id: string, at: string): Promise<boolean>;
  touchApiKey(id: string, at: string): Promise<void>;
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  insertStaffUser(user: StaffUser, now: string): Promise<void>;
  insertApiKey(
    key: Omit<ApiKeyRecord, 'scopes'> & { keyHash: string; scopes?: readonly string[] | null },
    now: string,
  ): Promise<void>;
  listStaffUsers(): Promise<StaffUser[]>;
}

/** What most use cases need besides storage. */
export interface UseCaseContext {
  readonly policy: Policy;
  readonly clock: Clock;
  readonly ids: IdSource;
  /** Working calendars by policy key (`approvalSla.calendars`), built once by the composition root. */
  readonly calendars: ReadonlyMap<string, BusinessCalendar>;
  readonly confirmations: ConfirmationSettings;
  readonly codes: OneTimeCodes;
}

/** Makes and checks one-time codes; only keyed hashes are ever stored. */
export interface OneTimeCodes {
  /** A fresh random code of 6 digits. */
  newCode(): string;
  hash(challengeId: string, code: string): string;
  matches(challengeId: string, code: string, hash: string): boolean;
  /** A fresh bearer token for a customer session (`cst_…`), and the hash under which it is stored. */
  newSessionToken(): { token: string; tokenHash: string };
  sessionTokenHash(token: string): string;
}

/** What staff sign-in needs from cryptography: password hashing, TOTP, random tokens. */
export interface StaffCredentialKit {
  hashPassword(password: string): Promise<string>;
  /** False for a null hash too, after the same work, so unknown accounts cannot be told apart by timing. */
  verifyPassword(stored: string | null, password: string): Promise<boolean>;
  /** A random initial password, shown once. */
  newPassword(): string;
  newTotpSecret(): string;
  totpUri(secret: string, account: string): string;
  /** The TOTP time step the code belongs to (within one step of now), or null when it is wrong. */
  totpStep(secret: string, code: string, now: Date): number | null;
  /** The current code: for tests and the demo's printed credentials. */
  totpCode(secret: string, now: Date): string;
  newToken(prefix: string): { token: string; tokenHash: string };
  tokenHash(token: string): string;
}

/** Hashes security answers (argon2id); a stolen database yields no answers. */
export interface AnswerHasher {
  hash(normalisedAnswer: string): Promise<string>;
  verify(stored: string, normalisedAnswer: string): Promise<boolean>;
}

/** Seals identity documents at rest (AES-256-GCM); the key stays outside the database. */
export interface DocumentCipher {
  readonly keyId: string;
  encrypt(plaintext: Uint8Array): { iv: Uint8Array; ciphertext: Uint8Array; authTag: Uint8Array };
  decrypt(sealed: { keyId: string; iv: Uint8Array; ciphertext: Uint8Array; authTag: Uint8Array }): Uint8Array;
}

export interface DocumentReview {
  readonly decision: 'accepted' | 'rejected';
  readonly checklist: Record<string, boolean>;
  readonly note: string | null;
  readonly reviewedBy: Actor;
  readonly reviewedAt: string;
}

export interface IdentityDocument {
  readonly id: string;
  readonly changeRequestId: string;
  readonly customerId: string;
  readonly documentType: string;
  readonly contentType: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly keyId: string;
  readonly uploadedBy: Actor;
  readonly uploadedAt: string;
  readonly review: DocumentReview | null;
}

export interface SealedDocument extends IdentityDocument {
  readonly iv: Uint8Array;
  readonly authTag: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/**
 * Where payment details go instead of Amend's database: a payment provider's vault in production (implement
 * this port over its API), the built-in development vault otherwise. Amend keeps only the token and what the
 * vault says may be shown (brand, last 4, expiry; masked IBAN).
 */
export interface Vault {
  tokeniseCard(card: {
    digits: string;
    brand: string;
    last4: string;
    expiryMonth: number;
    expiryYear: number;
  }): Promise<{ vaultToken: string }>;
  tokeniseBankAccount(account: {
    iban: string;
    bic: string | null;
    maskedIban: string;
  }): Promise<{ vaultToken: string }>;
}

export interface SmsMessage {
  readonly to: string;
  readonly text: string;
}

/** Sends text messages: an HTTP SMS gateway in production, the mail catcher in development. */
export interface SmsSender {
  send(message: SmsMessage): Promise<MailResult>;
}

export interface OtpChallenge {
  readonly id: string;
  readonly changeRequestId: string;
  readonly customerId: string;
  readonly channel: 'email' | 'sms';
  readonly destinationMasked: string;
  readonly codeHash: string;
  readonly expiresAt: string;
  readonly attempts: number;
  readonly usedAt: string | null;
  readonly createdAt: string;
}

/** Signs "this wasn't me" link ids, so a link cannot be forged or altered. */
export interface LinkSigner {
  sign(linkId: string): string;
  /** The link id of a token whose signature checks, or null. */
  verify(token: string): string | null;
}

export interface ConfirmationSettings {
  /** Where customers reach Amend, for the links in mail (e.g. https://amend.example.com). */
  readonly publicBaseUrl: string;
  readonly linkLifetimeDays: number;
  readonly support: SupportContact;
  readonly linkSigner: LinkSigner;
}

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly changeRequestId: string | null;
}

export type MailResult =
  | { readonly ok: true; readonly messageId: string }
  | { readonly ok: false; readonly error: string; readonly isPermanent: boolean };

/** Sends mail: SMTP in production, the built-in mail catcher in the embedded default. */
export interface MailSender {
  send(message: MailMessage): Promise<MailResult>;
}

export interface SecurityCase {
  readonly id: string;
  readonly customerId: string;
  readonly changeRequestId: string;
  readonly kind: 'suspected_unauthorised_change';
  readonly priority: 'high';
  readonly status: 'open' | 'resolved';
  readonly openedAt: string;
  readonly linkId: string | null;
  readonly revertRequestId: string | null;
  readonly resolvedAt: string | null;
  readonly resolvedBy: Actor | null;
  readonly resolution: 'reverted' | 'not_fraud' | null;
  readonly note: string | null;
}

export interface MetricsBacklog {
  /** Requests in each state that is not final. */
  readonly requestsByState: Record<string, number>;
  readonly outboxDepth: number;
  readonly outboxOldestAgeSeconds: number;
  readonly deadLetters: number;
  readonly openFlagsBySeverity: Record<string, number>;
}

export interface MetricsHistory {
  /** Requests in each final state. */
  readonly requestsByState: Record<string, number>;
  readonly verificationFailures: number;
  /** Cumulative counts of completed requests per bucket (received → completed), with count and sum. */
  readonly processing: { buckets: number[]; count: number; sumSeconds: number };
}

export interface MonthlyFigures {
  readonly volume: {
    total: number;
    byField: Record<string, number>;
    byChannel: Record<string, number>;
    byTier: Record<string, number>;
  };
  readonly processingTime: { completed: number; medianMinutes: number | null; p90Minutes: number | null };
  readonly reviews: { reviewed: number; withError: number };
  readonly reverts: { total: number; notReviewed: number };
  readonly flagsRaised: Record<string, number>;
  readonly flagsConfirmed: number;
  readonly notMeReports: number;
  readonly approvalSlaBreaches: number;
  readonly propagation: {
    system: string;
    deliveries: number;
    confirmed: number;
    deadLetters: number;
    medianLagSeconds: number | null;
    p90LagSeconds: number | null;
  }[];
  readonly optOutDeadlineBreaches: number;
}

/** A flag raised by an anomaly rule, for a team lead or manager to review. */
export interface AnomalyFlag extends AnomalyFlagDraft {
  readonly id: string;
  readonly status: 'open' | 'dismissed' | 'confirmed';
  readonly raisedAt: string;
  readonly reviewedBy: Actor | null;
  readonly reviewedAt: string | null;
  readonly reviewReason: string | null;
}

export interface CaughtMail extends MailMessage {
  readonly id: string;
  readonly createdAt: string;
}

/** The core's decision context for "now". */
export const decisionContext = (context: UseCaseContext) => ({
  policy: context.policy,
  now: context.clock.now().toISOString(),
  calendars: context.calendars,
});

/**
 * Encrypts personal values at rest (AES-256-GCM, key id stored with each value, keys outside the database) and
 * derives blind indexes for equality lookups. `owner` binds a value to its row: a value moved to another row
 * does not open.
 */
export interface FieldCipher {
  readonly currentKeyId: string;
  seal(plaintext: string, owner: string): string;
  open(sealed: string, owner: string): string;
  keyIdOf(sealed: string): string;
  hasKey(keyId: string): boolean;
  blindIndex(kind: 'email' | 'phone', value: string): string;
}

/**
 * New customers and the entries opening their audit chains as the store loads them: sealed, hashed and in COPY's
 * text format, made by the store's `encodeNewCustomers` on a bulk import's worker threads, so that the main thread
 * only reads the file and writes batches.
 */
export interface EncodedNewCustomers {
  readonly count: number;
  readonly customers: string;
  readonly auditEntries: string;
  readonly auditHeads: string;
}

/** Makes new API keys: the plaintext (shown once) and the digest that is stored. */
export interface ApiKeyIssuer {
  issue(): { key: string; keyHash: string };
}

export type DeliveryResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: string; readonly isPermanent: boolean };

export type ReadBackResult =
  | { readonly ok: true; readonly values: Record<string, unknown> | null }
  | { readonly ok: false; readonly error: string };

/** A connected system Amend pushes changes to (billing, shipping, marketing…). One adapter per kind. */
export interface ConnectedSystem {
  readonly id: string;
  readonly kind: string;
  /**
   * How a delivery is proven: `read_back` (Amend reads the values back and compares), `acknowledged` (the
   * system's own acknowledgement is all it offers), `attested` (a person confirms a manual entry).
   */
  readonly confirmation: Confirmation;
  /** Delivers one change; must be safe to call again with the same message (receivers dedupe by idempotency key). */
  deliver(message: ClaimedOutboxMessage): Promise<DeliveryResult>;
  /** What the system holds for a customer, by field or `field.part` path; `values: null` if it does not know them. */
  readBack?(customerId: string): Promise<ReadBackResult>;
  /**
   * For a system that applies a delivery asynchronously (a message-queue consumer): how long it may take to
   * apply it, during which a read-back that still disagrees is looked at again rather than counted as drift.
   */
  readonly readBackSettleMs?: number;
  close?(): Promise<void>;
}
