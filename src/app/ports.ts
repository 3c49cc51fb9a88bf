import type { AuditCheckpoint, AuditEntry, AuditEntryDraft, ChainHead } from '../core/audit-types.ts';
import type { BusinessCalendar } from '../core/business-day-fns.ts';
import type { ChangeRequest, ChangeRequestState, Role } from '../core/change-request-types.ts';
import type { Customer } from '../core/customer-types.ts';
import type { Policy } from '../core/policy-types.ts';

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

export interface StoredAuditEntry extends AuditEntry {
  readonly id: number;
}

export interface OutboxMessage {
  readonly kind: 'propagation';
  readonly destination: string;
  readonly customerId: string;
  readonly changeRequestId: string | null;
  /** Per customer, increasing: the customer's version after the change. Receivers use it to order. */
  readonly sequence: number;
  readonly payload: Record<string, unknown>;
}

export interface ClaimedOutboxMessage extends OutboxMessage {
  readonly id: number;
  readonly attempts: number;
  readonly createdAt: string;
}

export interface OutboxStatus {
  readonly id: number;
  readonly destination: string;
  readonly status: 'pending' | 'delivered' | 'dead';
  readonly attempts: number;
  readonly lastError: string | null;
  readonly deliveredAt: string | null;
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

/** Storage as the use cases see it. Every write happens inside `transaction`. */
export interface Store {
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T>;

  findCustomer(id: string): Promise<Customer | null>;
  /** Reads and locks the customer row until the transaction ends. */
  lockCustomer(id: string): Promise<Customer | null>;
  updateCustomer(customer: Customer, expectedVersion: number): Promise<boolean>;
  insertCustomers(customers: readonly Customer[]): Promise<void>;
  listCustomers(query: {
    limit: number;
    after?: string | undefined;
    email?: string | undefined;
  }): Promise<Page<Customer>>;
  countCustomers(): Promise<number>;

  findChangeRequest(id: string): Promise<ChangeRequest | null>;
  lockChangeRequest(id: string): Promise<ChangeRequest | null>;
  insertChangeRequest(request: ChangeRequest): Promise<void>;
  updateChangeRequest(request: ChangeRequest, expectedVersion: number): Promise<boolean>;
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
  listAudit(query: AuditQuery): Promise<{ entries: StoredAuditEntry[]; nextCursor: number | null }>;
  auditEntriesInChainOrder(
    after: { chain: string; seq: number } | null,
    limit: number,
  ): Promise<StoredAuditEntry[]>;
  allChainHeads(): Promise<Map<string, ChainHead>>;
  allCheckpoints(): Promise<AuditCheckpoint[]>;
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
  markOutboxDelivered(id: number, owner: string, now: string): Promise<boolean>;
  markOutboxFailed(
    id: number,
    owner: string,
    failure: { error: string; retryAt: string | null },
  ): Promise<boolean>;
  outboxForChangeRequest(changeRequestId: string): Promise<OutboxStatus[]>;

  claimIdempotencyKey(claim: { principal: string; key: string; requestHash: string; now: string }): Promise<{
    requestHash: string;
    status: number;
    body: unknown;
  } | null>;
  recordIdempotentResponse(response: {
    principal: string;
    key: string;
    status: number;
    body: unknown;
  }): Promise<void>;

  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  insertStaffUser(user: StaffUser, now: string): Promise<void>;
  insertApiKey(key: ApiKeyRecord & { keyHash: string }, now: string): Promise<void>;
  listStaffUsers(): Promise<StaffUser[]>;
}

/** What most use cases need besides storage. */
export interface UseCaseContext {
  readonly policy: Policy;
  readonly clock: Clock;
  readonly ids: IdSource;
  /** Working calendars by policy key (`approvalSla.calendars`), built once by the composition root. */
  readonly calendars: ReadonlyMap<string, BusinessCalendar>;
}

/** The core's decision context for "now". */
export const decisionContext = (context: UseCaseContext) => ({
  policy: context.policy,
  now: context.clock.now().toISOString(),
  calendars: context.calendars,
});

/** Makes new API keys: the plaintext (shown once) and the digest that is stored. */
export interface ApiKeyIssuer {
  issue(): { key: string; keyHash: string };
}

export type DeliveryResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: string; readonly isPermanent: boolean };

/** A connected system Amend pushes changes to (billing, shipping, marketing…). One adapter per kind. */
export interface ConnectedSystem {
  readonly id: string;
  readonly kind: string;
  /** Delivers one change; must be safe to call again with the same message (receivers dedupe by idempotency key). */
  deliver(message: ClaimedOutboxMessage): Promise<DeliveryResult>;
}
