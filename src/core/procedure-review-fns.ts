import type { Role } from './change-request-types.ts';
import type { FieldName } from './customer-types.ts';
import {
  connectedSystemsFor,
  isApprovalRequired,
  isVerificationSatisfied,
  tierOfFields,
} from './policy-fns.ts';
import type { Policy, VerificationMethod } from './policy-types.ts';

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
 * What the review knows of an applied change: the fields it changed, how it was verified, read back and
 * approved, and what became of its deliveries. PostgreSQL keeps these beside each request, from its body
 * (migration 0018), so a month's changes are reviewed in groups that share them, each group once.
 */
export interface ReviewFacts {
  readonly fields: readonly FieldName[];
  readonly passedMethods: readonly VerificationMethod[];
  readonly isRevert: boolean;
  /** The applied revision was read back and confirmed. */
  readonly isReadBack: boolean;
  /** Who approved the change, if anyone; `isHandler` when they also asked for it, processed or verified it. */
  readonly approver: { readonly id: string; readonly role: Role | null; readonly isHandler: boolean } | null;
  /** The connected systems sent the change, and those of them that have yet to confirm it. */
  readonly sentTo: readonly string[];
  readonly unconfirmedBy: readonly string[];
  /** A confirmation reached the customer. */
  readonly isCustomerConfirmed: boolean;
}

/** A shortfall of an applied change, without the change: one per group of changes that share their facts. */
export interface ProcedureGap {
  readonly code: FindingCode;
  readonly message: string;
}

/**
 * What an applied change lacks of the procedure (step 8.1): verification meeting the tier the policy gives
 * its fields *now* (not the tier stored on the request), a read-back, an approval by an eligible second person
 * where needed, a delivery to every connected system holding a changed field, confirmed, and a confirmation
 * accepted for the customer. By construction this is empty; it exists to prove it and to catch tampering.
 */
export function procedureGaps(facts: ReviewFacts, policy: Policy): ProcedureGap[] {
  const gaps: ProcedureGap[] = [];
  const find = (code: FindingCode, message: string) => gaps.push({ code, message });
  const { fields } = facts;
  const tier = tierOfFields(policy, fields);
  const passed = new Set(facts.passedMethods);
  const isVerified = facts.isRevert
    ? passed.has('not_me_link')
    : isVerificationSatisfied(policy, tier, passed);
  if (!isVerified)
    find(
      'VERIFICATION_BELOW_TIER',
      `Verified by [${[...passed].join(', ') || 'nothing'}], which does not meet the ${tier} tier.`,
    );
  if (!facts.isReadBack) find('READ_BACK_MISSING', 'No read-back of the applied values was confirmed.');
  if (!facts.isRevert && isApprovalRequired(policy, fields)) {
    const { approver } = facts;
    if (!approver) find('APPROVAL_MISSING', 'The policy requires an approval; none is recorded.');
    else if (!['team_lead', 'manager'].includes(approver.role ?? '') || approver.isHandler)
      find('APPROVAL_MISSING', `Approved by ${approver.id}, who is not an eligible second person.`);
  }
  for (const system of connectedSystemsFor(policy, fields)) {
    if (!facts.sentTo.includes(system))
      find('CONNECTED_SYSTEM_SKIPPED', `${system} holds a changed field but was never sent the change.`);
    else if (facts.unconfirmedBy.includes(system))
      find('NOT_CONSISTENT', `${system} has not confirmed the new values.`);
  }
  if (!facts.isCustomerConfirmed) find('CONFIRMATION_NOT_DELIVERED', 'No confirmation reached the customer.');
  return gaps;
}

/** The first and last instants of a month given as YYYY-MM (UTC). */
export function monthRange(month: string): { from: string; to: string } {
  const [year, monthNumber] = month.split('-').map(Number) as [number, number];
  return {
    from: new Date(Date.UTC(year, monthNumber - 1, 1)).toISOString(),
    to: new Date(Date.UTC(year, monthNumber, 1)).toISOString(),
  };
}
