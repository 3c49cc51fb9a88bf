import { type Kysely, sql } from 'kysely';
import type { FieldCipher, Store } from '../app/ports.ts';
import type { Sha256Hex } from '../core/audit-types.ts';
import * as anomalies from './anomaly-repo.ts';
import * as audit from './audit-repo.ts';
import * as changeRequests from './change-request-repo.ts';
import * as confirmations from './confirmation-repo.ts';
import * as customers from './customer-repo.ts';
import * as idempotency from './idempotency-repo.ts';
import * as outbox from './outbox-repo.ts';
import * as reports from './report-repo.ts';
import * as reseal from './reseal-repo.ts';
import type { Database } from './schema-types.ts';
import * as staff from './staff-repo.ts';
import * as verification from './verification-repo.ts';

/**
 * The `Store` port over Kysely. Inside `transaction` the same methods run on the transaction, so use cases
 * never see a connection.
 */
export function createStore(
  db: Kysely<Database>,
  sha256: Sha256Hex,
  cipher: FieldCipher,
  isInTransaction = false,
): Store {
  // Reads that must agree with each other (the audit log's scan, the review's groups and their members) share
  // one read-only snapshot; inside a transaction, the caller's.
  const inSnapshot = <T>(read: (trx: Kysely<Database>) => Promise<T>): Promise<T> =>
    isInTransaction
      ? read(db)
      : db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(read);
  // Only a transaction holds locks between statements.
  const held: audit.HeldChainHeads | undefined = isInTransaction ? new Map() : undefined;
  const store: Store = {
    transaction: (work) =>
      isInTransaction
        ? work(store)
        : db.transaction().execute((trx) => work(createStore(trx, sha256, cipher, true))),
    snapshot: (work) =>
      inSnapshot((trx) => work(isInTransaction ? store : createStore(trx, sha256, cipher, true))),

    findCustomer: (id) => customers.findCustomer(db, cipher, id),
    findCustomers: (ids) => customers.findCustomers(db, cipher, ids),
    lockCustomer: (id) => customers.lockCustomer(db, cipher, id),
    lockCustomerForChange: (id, now) => customers.lockCustomerForChange(db, cipher, id, now, held),
    customersWithContact: (contact, except) => customers.customersWithContact(db, cipher, contact, except),
    insertCustomers: (list) => customers.insertCustomers(db, cipher, list),
    resealRecords: (records, limit, after) => reseal.resealRecords(db, cipher, records, limit, after),
    countRecordsToReseal: (records) => reseal.countRecordsToReseal(db, cipher, records),
    listCustomers: async (query) => {
      const page = await customers.listCustomers(db, cipher, query);
      return { items: page.customers, nextCursor: page.nextCursor };
    },
    countCustomers: () => customers.countCustomers(db),
    anyCustomerSealedUnder: async (keyId) => {
      const row = await db
        .selectFrom('customer')
        .selectAll()
        .where('key_id', '=', keyId)
        .limit(1)
        .executeTakeFirst();
      return row ? customers.customerFromRow(row, cipher) : null;
    },

    findChangeRequest: (id) => changeRequests.findChangeRequest(db, cipher, id),
    lockChangeRequest: (id) => changeRequests.lockChangeRequest(db, cipher, id),
    lockChangeRequests: (ids) => changeRequests.lockChangeRequests(db, cipher, ids),
    updateChangeRequests: (updates) => changeRequests.updateChangeRequestsIfVersion(db, cipher, updates),
    writeChangeRequest: (write) => changeRequests.writeChangeRequest(db, cipher, write, { sha256, held }),
    updateChangeRequest: (request, expectedVersion) =>
      changeRequests.updateChangeRequestIfVersion(db, cipher, request, expectedVersion),
    listChangeRequests: (query) => changeRequests.listChangeRequests(db, cipher, query),
    listApprovalQueue: (query) => changeRequests.listApprovalQueue(db, cipher, query),
    listEscalationQueue: (query) => changeRequests.listEscalationQueue(db, cipher, query),
    listDueChangeRequests: (now, limit) => changeRequests.listDueChangeRequests(db, now, limit),

    appendAudit: (drafts) => audit.appendAuditEntries(db, drafts, sha256, cipher, held),
    openAuditChains: (drafts) => audit.appendAuditEntries(db, drafts, sha256, cipher, held, 'all new'),
    openedAuditTrail: async (chain) =>
      (await audit.auditTrail(db, chain)).map((entry) => ({
        ...entry,
        details: audit.openSealedDetails(entry, cipher),
      })),
    findAuditEntryValues: async (id) => {
      const entry = await audit.findAuditEntry(db, id);
      return entry ? { entry, values: audit.openSealedDetails(entry, cipher) } : null;
    },
    listAudit: (query) => audit.listAuditEntries(db, query),
    scanAuditLog: (limit) => inSnapshot((trx) => audit.scanAuditLog(trx, limit)),
    lockCheckpoints: () => audit.lockCheckpoints(db),
    movedChainHeads: (limit) => audit.movedChainHeads(db, limit),
    insertCheckpoint: (checkpoint) => audit.insertCheckpoint(db, checkpoint),

    enqueueOutbox: (messages, now) => outbox.enqueueOutbox(db, cipher, messages, now),
    claimOutbox: (options) => outbox.claimOutbox(db, cipher, options),
    markOutboxDelivered: (owner, deliveries) => outbox.markOutboxDelivered(db, owner, deliveries),
    markOutboxFailed: (id, owner, failure) => outbox.markOutboxFailed(db, id, owner, failure),
    confirmOutbox: (id, now, confirmation) => outbox.confirmOutbox(db, id, now, confirmation),
    findOutbox: (id) => outbox.findOutbox(db, id),
    outboxForChangeRequest: (id) => outbox.outboxForChangeRequests(db, [id]),
    outboxForChangeRequests: (ids) => outbox.outboxForChangeRequests(db, ids),
    fullyConfirmed: (candidates) => outbox.fullyConfirmed(db, candidates),
    strandedChangeRequests: (updatedBefore, limit) => outbox.strandedChangeRequests(db, updatedBefore, limit),
    listDeadLetters: (query) => outbox.listDeadLetters(db, query),
    requeueDeadLetter: (id, now, replacement) => outbox.requeueDeadLetter(db, cipher, id, now, replacement),
    flagDeadlineBreaches: (now, limit) => outbox.flagDeadlineBreaches(db, now, limit),
    metricsBacklog: () => reports.metricsBacklog(db),
    metricsHistory: (buckets) => reports.metricsHistory(db, buckets),
    monthlyFigures: (from, to) => reports.monthlyFigures(db, from, to),
    recordQualityReview: (review) => reports.recordQualityReview(db, review),
    qualitySample: (from, to, size) => reports.qualitySample(db, from, to, size),
    reviewGroups: (from, to, systems) => inSnapshot((trx) => reports.reviewGroups(trx, from, to, systems)),
    reviewGroupMembers: (from, to, systems, keys) =>
      inSnapshot((trx) => reports.reviewGroupMembers(trx, from, to, systems, keys)),
    setSecurityQuestions: (customerId, questions, at) =>
      verification.setSecurityQuestions(db, customerId, questions, at),
    securityQuestions: (customerId) => verification.securityQuestions(db, customerId),
    insertSignInChallenge: (challenge) => verification.insertSignInChallenge(db, challenge),
    lockSignInChallenge: (id) => verification.lockSignInChallenge(db, id),
    signInFailuresSince: (customerId, since) => verification.signInFailuresSince(db, customerId, since),
    updateSignInChallenge: (id, changes) => verification.updateSignInChallenge(db, id, changes),
    insertCustomerSession: (session) => verification.insertCustomerSession(db, session),
    findCustomerSession: (tokenHash, now) => verification.findCustomerSession(db, tokenHash, now),
    insertVaultToken: (entry) => verification.insertVaultToken(db, entry),
    insertIdentityDocument: (document) => verification.insertIdentityDocument(db, document),
    findIdentityDocument: (id) => verification.findIdentityDocument(db, id),
    reviewIdentityDocument: (id, review) => verification.reviewIdentityDocument(db, id, review),
    insertOtpChallenge: (challenge) => verification.insertOtpChallenge(db, challenge),
    lockOtpChallenge: (id) => verification.lockOtpChallenge(db, id),
    updateOtpChallenge: (id, changes) => verification.updateOtpChallenge(db, id, changes),
    verificationLockUntil: (customerId, now) => verification.verificationLockUntil(db, customerId, now),
    lockVerification: (customerId, until, failures) =>
      verification.lockVerification(db, customerId, until, failures),
    customerActivity: (customerId, since) => anomalies.customerActivity(db, customerId, since),
    anomalyHistory: (query) => anomalies.anomalyHistory(db, query),
    pruneSourceTouches: (before) => anomalies.pruneSourceTouches(db, before),
    recordAnomalyFlags: (flags) => anomalies.recordAnomalyFlags(db, flags),
    openAnomalyFlags: (customerId, severities) => anomalies.openAnomalyFlags(db, customerId, severities),
    listAnomalyFlags: (query) => anomalies.listAnomalyFlags(db, query),
    reviewAnomalyFlag: (id, review) => anomalies.reviewAnomalyFlag(db, id, review),
    insertNotMeLinks: (links) => confirmations.insertNotMeLinks(db, links),
    useNotMeLink: (id, now) => confirmations.useNotMeLink(db, id, now),
    openSecurityCase: (securityCase) => confirmations.openSecurityCase(db, securityCase),
    findSecurityCase: (id) => confirmations.findSecurityCase(db, id),
    lockSecurityCase: (id) => confirmations.lockSecurityCase(db, id),
    updateSecurityCase: (securityCase) => confirmations.updateSecurityCase(db, securityCase),
    listSecurityCases: (query) => confirmations.listSecurityCases(db, query),
    setCustomerFreeze: (customerId, freeze) => confirmations.setCustomerFreeze(db, customerId, freeze),
    catchMail: (mail) => confirmations.catchMail(db, mail),
    listCaughtMail: (query) => confirmations.listCaughtMail(db, query),
    createManualTask: (task) => outbox.createManualTask(db, cipher, task),
    listManualTasks: (query) => outbox.listManualTasks(db, cipher, query),
    attestManualTask: (id, by, now, evidence) => outbox.attestManualTask(db, cipher, id, by, now, evidence),

    storeIdempotentResponse: (response) => idempotency.storeIdempotentResponse(db, cipher, response),
    findIdempotentResponse: (principal, key) =>
      idempotency.findIdempotentResponse(db, cipher, principal, key),
    pruneIdempotentResponses: (before, limit) => idempotency.pruneIdempotentResponses(db, before, limit),

    findApiKeyByHash: (hash) => staff.findApiKeyByHash(db, hash),
    listApiKeys: () => staff.listApiKeys(db),
    revokeApiKey: (id, at) => staff.revokeApiKey(db, id, at),
    touchApiKey: (id, at) => staff.touchApiKey(db, id, at),
    findStaffUser: (id) => staff.findStaffUser(db, id),
    findStaffCredentials: (email) => staff.findStaffCredentials(db, cipher, email),
    updateStaffSignInState: (userId, state) => staff.updateStaffSignInState(db, userId, state),
    setStaffCredentials: (userId, credentials) => staff.setStaffCredentials(db, cipher, userId, credentials),
    insertStaffSession: (session) => staff.insertStaffSession(db, session),
    findStaffSession: (tokenHash) => staff.findStaffSession(db, tokenHash),
    touchStaffSession: (id, at) => staff.touchStaffSession(db, id, at),
    revokeStaffSessions: (which, at) => staff.revokeStaffSessions(db, which, at),
    insertStaffUser: (user, now) => staff.insertStaffUser(db, user, now),
    insertApiKey: (key, now) => staff.insertApiKey(db, key, now),
    listStaffUsers: () => staff.listStaffUsers(db),
  };
  return store;
}

/** True when the database answers; for /healthz. */
export async function isDatabaseReachable(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`SELECT 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
