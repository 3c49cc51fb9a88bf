import { describe, expect, it } from 'vitest';
import { procedureGaps, type ReviewFacts } from './procedure-review-fns.ts';
import { loadDefaultPolicy } from './test-fixtures.ts';

const policy = loadDefaultPolicy();

/** A legal name change done by the book: a document checked, read back, approved by a team lead, delivered. */
const legalNameChange: ReviewFacts = {
  fields: ['legalName'],
  passedMethods: ['id_document'],
  isRevert: false,
  isReadBack: true,
  approver: { id: 'lead-1', role: 'team_lead', isHandler: false },
  sentTo: ['billing', 'shipping'],
  unconfirmedBy: [],
  isCustomerConfirmed: true,
};

const codes = (facts: Partial<ReviewFacts>) =>
  procedureGaps({ ...legalNameChange, ...facts }, policy).map((gap) => gap.code);

describe('the gaps of an applied change', () => {
  it('finds none in a change done by the book', () => {
    expect(codes({})).toEqual([]);
  });

  it('holds the fields to the tier the policy gives them now, whatever passed', () => {
    expect(codes({ passedMethods: ['otp_on_file', 'knowledge_check'] })).toEqual(['VERIFICATION_BELOW_TIER']);
    expect(procedureGaps({ ...legalNameChange, passedMethods: [] }, policy)[0]?.message).toBe(
      'Verified by [nothing], which does not meet the legal tier.',
    );
  });

  it('accepts a revert verified by the customer’s “not me” link alone, and needs no approval for it', () => {
    expect(codes({ isRevert: true, passedMethods: ['not_me_link'], approver: null })).toEqual([]);
    expect(codes({ isRevert: true, passedMethods: ['id_document'] })).toEqual(['VERIFICATION_BELOW_TIER']);
  });

  it('needs a read-back of the applied values', () => {
    expect(codes({ isReadBack: false })).toEqual(['READ_BACK_MISSING']);
  });

  it('needs an approval by a team lead or manager who did not handle the change', () => {
    expect(codes({ approver: null })).toEqual(['APPROVAL_MISSING']);
    expect(codes({ approver: { id: 'lead-1', role: 'team_lead', isHandler: true } })).toEqual([
      'APPROVAL_MISSING',
    ]);
    expect(codes({ approver: { id: 'rep-1', role: 'representative', isHandler: false } })).toEqual([
      'APPROVAL_MISSING',
    ]);
    expect(codes({ approver: { id: 'mgr-1', role: 'manager', isHandler: false } })).toEqual([]);
    // A basic change needs none.
    expect(
      codes({
        fields: ['preferredName'],
        passedMethods: ['trusted_integration'],
        approver: null,
        sentTo: ['billing', 'marketing'],
      }),
    ).toEqual([]);
  });

  it('needs every connected system holding a changed field sent the change and confirming it', () => {
    expect(codes({ sentTo: ['billing'] })).toEqual(['CONNECTED_SYSTEM_SKIPPED']);
    expect(codes({ unconfirmedBy: ['shipping'] })).toEqual(['NOT_CONSISTENT']);
    expect(procedureGaps({ ...legalNameChange, sentTo: ['shipping'] }, policy)[0]?.message).toBe(
      'billing holds a changed field but was never sent the change.',
    );
  });

  it('needs a confirmation to have reached the customer', () => {
    expect(codes({ isCustomerConfirmed: false })).toEqual(['CONFIRMATION_NOT_DELIVERED']);
  });
});
