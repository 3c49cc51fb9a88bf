import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { isApprovalRequired, isVerificationSatisfied, parsePolicy, tierOfFields } from './policy-fns.ts';
import { loadDefaultPolicy } from './test-fixtures.ts';

const defaultDocument = () =>
  YAML.parse(readFileSync(new URL('../../policy/default-policy.yaml', import.meta.url), 'utf8'));

describe('policy', () => {
  it('ships the default the procedure asks for', () => {
    const policy = loadDefaultPolicy();
    expect(policy.fields.communicationPreferences.tier).toBe('basic');
    expect(policy.fields.postalAddress.tier).toBe('standard');
    expect(policy.fields.phone.tier).toBe('standard');
    for (const field of ['email', 'paymentMethod', 'bankAccount'] as const)
      expect(policy.fields[field].tier).toBe('sensitive');
    for (const field of ['legalName', 'dateOfBirth'] as const) {
      expect(policy.fields[field].tier).toBe('legal');
      expect(isApprovalRequired(policy, [field])).toBe(true);
    }
    expect(policy.tiers.legal.verification).toEqual([['id_document']]);
    expect(tierOfFields(policy, ['phone', 'email'])).toBe('sensitive');
    expect(isVerificationSatisfied(policy, 'sensitive', new Set(['otp_on_file']))).toBe(false);
    expect(isVerificationSatisfied(policy, 'sensitive', new Set(['otp_on_file', 'knowledge_check']))).toBe(
      true,
    );
  });

  it('names the path and the fix of every error', () => {
    const document = defaultDocument();
    document.fields.email.tier = 'extreme';
    document.fields.phone.colour = 'blue';
    delete document.tiers.basic;
    const result = parsePolicy(document);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.error.map((problem) => problem.path);
    expect(paths).toEqual(expect.arrayContaining(['fields.email.tier', 'fields.phone', 'tiers.basic']));
    expect(result.error.find((p) => p.path === 'fields.phone')?.fix).toContain('colour');
    expect(result.error.find((p) => p.path === 'fields.email.tier')?.fix).toMatch(
      /basic|standard|sensitive|legal/,
    );
  });

  it('refuses a stronger tier that a weaker tier would not accept', () => {
    const document = defaultDocument();
    document.tiers.legal.verification = [['account_fact', 'otp_on_file']];
    document.tiers.sensitive.verification = [['id_document']];
    const result = parsePolicy(document);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error[0]?.path).toBe('tiers.legal.verification.0');
  });
});

describe('connected systems in a policy', () => {
  it('refuses more than the review can count, naming the limit', () => {
    const document = defaultDocument();
    document.fields.phone.connectedSystems = Array.from({ length: 64 }, (_, index) => `system-${index}`);
    const result = parsePolicy(document);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.error).toEqual([{ path: 'fields', fix: expect.stringMatching(/at most 63 .* not 6\d/) }]);
    document.fields.phone.connectedSystems = document.fields.phone.connectedSystems.slice(0, 60);
    expect(parsePolicy(document).ok).toBe(true);
  });
});
