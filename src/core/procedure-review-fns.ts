import type { ChangeRequest } from './change-request-types.ts';
import type { FieldName } from './customer-types.ts';
import {
  connectedSystemsFor,
  isApprovalRequired,
  isVerificationSatisfied,
  tierOfFields,
} from './policy-fns.ts';
import type { Policy } from './policy-types.ts';

export const FINDING_CODES = [
  'VERIFICATION_BELOW_TIER',
  'READ_BACK_MISSING',
  'APPROVAL_MISSING',
  'CONNECTED_SYSTEM_SKIPPED',
  'NOT_CONSISTENT',
  'CONFIRMATION_NOT_DELIVERED',
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export interface ReviewFinding {
  readonly changeRequestId: string;
  readonly customerId: string;
  readonly code: FindingCode;
  readonly message: string;
}

/**
 * What the review reads of an applied request: the fields it changed and who verified, read back and approved
 * it. Not the whole request: a month of a million is read in full, and the values changed are not needed.
 */
export type ReviewedRequest = Pick<
  ChangeRequest,
  | 'id'
  | 'customerId'
  | 'verifications'
  | 'revertOf'
  | 'readBack'
  | 'revision'
  | 'approval'
  | 'requester'
  | 'processedBy'
> & { readonly fields: readonly FieldName[] };

export interface DeliveryFact {
  readonly kind: 'propagation' | 'confirmation';
  readonly destination: string;
  readonly isConfirmed: boolean;
}

/**
 * What an applied change lacks of the procedure (step 8.1): verification meeting the tier the policy gives
 * its fields *now* (not the tier stored on the request), a read-back, an approval by an eligible second person
 * where needed, a delivery to every connected system holding a changed field, confirmed, and a confirmation
 * accepted for the customer. By construction this is empty; it exists to prove it and to catch tampering.
 */
export function procedureFindings(
  request: ReviewedRequest,
  deliveries: readonly DeliveryFact[],
  policy: Policy,
): ReviewFinding[] {
  const findings: ReviewFinding[] = [];
  const find = (code: FindingCode, message: string) =>
    findings.push({ changeRequestId: request.id, customerId: request.customerId, code, message });
  const { fields } = request;
  const tier = tierOfFields(policy, fields);
  const passed = new Set(request.verifications.filter((v) => v.outcome === 'passed').map((v) => v.method));
  const isVerified = request.revertOf
    ? passed.has('not_me_link')
    : isVerificationSatisfied(policy, tier, passed);
  if (!isVerified)
    find(
      'VERIFICATION_BELOW_TIER',
      `Verified by [${[...passed].join(', ') || 'nothing'}], which does not meet the ${tier} tier.`,
    );
  if (request.readBack?.revision !== request.revision)
    find('READ_BACK_MISSING', 'No read-back of the applied values was confirmed.');
  if (!request.revertOf && isApprovalRequired(policy, fields)) {
    const approver = request.approval?.decision === 'approved' ? request.approval.approver : null;
    const handlers = new Set([
      request.requester.id,
      ...request.processedBy,
      ...request.verifications.map((v) => v.recordedBy.id),
      request.readBack?.confirmedBy.id,
    ]);
    if (!approver) find('APPROVAL_MISSING', 'The policy requires an approval; none is recorded.');
    else if (!['team_lead', 'manager'].includes(approver.role ?? '') || handlers.has(approver.id))
      find('APPROVAL_MISSING', `Approved by ${approver.id}, who is not an eligible second person.`);
  }
  for (const system of connectedSystemsFor(policy, fields)) {
    const toSystem = deliveries.filter((d) => d.kind === 'propagation' && d.destination === system);
    if (toSystem.length === 0)
      find('CONNECTED_SYSTEM_SKIPPED', `${system} holds a changed field but was never sent the change.`);
    else if (toSystem.some((d) => !d.isConfirmed))
      find('NOT_CONSISTENT', `${system} has not confirmed the new values.`);
  }
  if (!deliveries.some((d) => d.kind === 'confirmation' && d.isConfirmed))
    find('CONFIRMATION_NOT_DELIVERED', 'No confirmation reached the customer.');
  return findings;
}

/** The first and last instants of a month given as YYYY-MM (UTC). */
export function monthRange(month: string): { from: string; to: string } {
  const [year, monthNumber] = month.split('-').map(Number) as [number, number];
  return {
    from: new Date(Date.UTC(year, monthNumber - 1, 1)).toISOString(),
    to: new Date(Date.UTC(year, monthNumber, 1)).toISOString(),
  };
}
