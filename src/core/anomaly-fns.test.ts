import { describe, expect, it } from 'vitest';
import { type Activity, evaluateAnomalies } from './anomaly-fns.ts';
import { loadDefaultPolicy } from './test-fixtures.ts';

const policy = loadDefaultPolicy();
const T0 = Date.parse('2026-11-02T09:00:00.000Z');
const at = (hours: number) => new Date(T0 + hours * 3_600_000).toISOString();

const activity = (hours: number, kind: Activity['kind'], overrides: Partial<Activity> = {}): Activity => ({
  at: at(hours),
  kind,
  customerId: 'c-1',
  changeRequestId: `cr-${hours}-${kind}`,
  fields: ['phone'],
  tier: 'standard',
  sources: ['ip:203.0.113.7'],
  ...overrides,
});

const rulesFired = (trigger: Activity, customer: Activity[], customersBySource = new Map<string, number>()) =>
  evaluateAnomalies(trigger, { customer: [...customer, trigger], customersBySource }, policy).map(
    (flag) => flag.rule,
  );

describe('anomaly rules (default thresholds)', () => {
  it('many changes to one customer: 3 in 24 h fires, 2 does not, 3 spread over 25 h does not', () => {
    expect(rulesFired(activity(10, 'received'), [activity(0, 'received')])).not.toContain(
      'many_changes_to_one_customer',
    );
    expect(
      rulesFired(activity(10, 'received'), [activity(0, 'received'), activity(5, 'received')]),
    ).toContain('many_changes_to_one_customer');
    expect(
      rulesFired(activity(25, 'received'), [activity(0, 'received'), activity(5, 'received')]),
    ).not.toContain('many_changes_to_one_customer');
  });

  it('one source touching many customers: 5 in an hour fires, 4 does not', () => {
    const spread = (n: number) => new Map([['ip:203.0.113.7', n]]);
    expect(rulesFired(activity(0, 'received'), [], spread(4))).not.toContain('one_source_many_customers');
    const flags = evaluateAnomalies(
      activity(0, 'received'),
      { customer: [], customersBySource: spread(5) },
      policy,
    );
    expect(flags).toContainEqual(
      expect.objectContaining({
        rule: 'one_source_many_customers',
        severity: 'medium',
        subject: 'ip:203.0.113.7',
      }),
    );
  });

  it('a sensitive change after a failed verification fires; a standard one, or one without failures, does not', () => {
    const failed = activity(1, 'verification_failed');
    expect(rulesFired(activity(2, 'received', { tier: 'sensitive', fields: ['email'] }), [failed])).toContain(
      'sensitive_after_failed_verification',
    );
    expect(rulesFired(activity(2, 'received', { tier: 'standard' }), [failed])).not.toContain(
      'sensitive_after_failed_verification',
    );
    expect(rulesFired(activity(2, 'received', { tier: 'sensitive', fields: ['email'] }), [])).not.toContain(
      'sensitive_after_failed_verification',
    );
    expect(
      rulesFired(activity(30, 'received', { tier: 'sensitive', fields: ['email'] }), [failed]),
    ).not.toContain('sensitive_after_failed_verification');
  });

  it('a contact change followed by a payment or bank change within 7 days fires; after 7 days it does not', () => {
    const contact = activity(0, 'applied', { fields: ['email'] });
    expect(
      rulesFired(activity(6 * 24, 'received', { fields: ['bankAccount'], tier: 'sensitive' }), [contact]),
    ).toContain('contact_then_payment');
    expect(
      rulesFired(activity(8 * 24, 'received', { fields: ['paymentMethod'], tier: 'sensitive' }), [contact]),
    ).not.toContain('contact_then_payment');
    expect(rulesFired(activity(24, 'received', { fields: ['postalAddress'] }), [contact])).not.toContain(
      'contact_then_payment',
    );
    expect(
      rulesFired(activity(24, 'received', { fields: ['bankAccount'] }), [
        activity(0, 'applied', { fields: ['postalAddress'] }),
      ]),
    ).not.toContain('contact_then_payment');
  });

  it('a "this wasn\'t me" report always fires, high', () => {
    const flags = evaluateAnomalies(
      activity(0, 'not_me_reported'),
      { customer: [], customersBySource: new Map() },
      policy,
    );
    expect(flags).toEqual([expect.objectContaining({ rule: 'not_me_report', severity: 'high' })]);
  });
});
