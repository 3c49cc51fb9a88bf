import type { StoredAuditEntry } from '../app/ports.ts';
import type { ChangeRequest } from '../core/change-request-types.ts';
import { nextStepsFor } from '../core/next-steps-fns.ts';
import type { Policy } from '../core/policy-types.ts';

/** A change request as the API shows it: evidence details stay in the audit log, not in every response. */
export function changeRequestView(request: ChangeRequest, policy: Policy) {
  return {
    id: request.id,
    customerId: request.customerId,
    state: request.state,
    tier: request.tier,
    isApprovalRequired: request.isApprovalRequired,
    channel: request.channel,
    requester: request.requester,
    reason: request.reason,
    items: request.items.map((item) => ({
      field: item.field,
      previous: item.previous ?? null,
      proposed: item.proposed ?? null,
    })),
    missing: request.missing,
    verifications: request.verifications.map((v) => ({
      method: v.method,
      outcome: v.outcome,
      recordedBy: v.recordedBy,
      recordedAt: v.recordedAt,
    })),
    readBack: request.readBack,
    approval: request.approval,
    escalation: request.escalation
      ? {
          reason: request.escalation.reason,
          note: request.escalation.note,
          from: request.escalation.from,
          escalatedAt: request.escalation.escalatedAt,
        }
      : null,
    connectedSystems: request.connectedSystems,
    approvalDueAt: request.approvalDueAt,
    approvalOverdueAt: request.approvalOverdueAt,
    assignee: request.assignee,
    notes: request.notes,
    revertOf: request.revertOf,
    suspectedUnauthorisedAt: request.suspectedUnauthorisedAt,
    revision: request.revision,
    version: request.version,
    createdAt: request.createdAt,
    updatedAt: request.updatedAt,
    expiresAt: request.expiresAt,
    appliedAt: request.appliedAt,
    completedAt: request.completedAt,
    nextSteps: nextStepsFor(request, policy),
  };
}

export function timelineEntry(entry: StoredAuditEntry) {
  const { from, to, ...details } = entry.details as { from?: string; to?: string };
  return {
    at: entry.occurredAt,
    action: entry.action,
    actor: entry.actor,
    from: from ?? null,
    to: to ?? null,
    details,
  };
}
