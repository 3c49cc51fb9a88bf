import { FIELD_NAMES, type FieldName } from './customer-types.ts';
import {
  type Policy,
  PolicySchema,
  RISK_TIERS,
  type RiskTier,
  type VerificationMethod,
} from './policy-types.ts';
import type { Result } from './result.ts';

export interface PolicyProblem {
  /** Dotted path in the policy file, e.g. `fields.email.tier`. */
  readonly path: string;
  /** What to write there instead. */
  readonly fix: string;
}

/** The most connected systems a policy may name; see `parsePolicy`. */
export const MAX_CONNECTED_SYSTEMS = 63;

/**
 * Validates a parsed policy document. Every problem names its path and the fix.
 * @example parsePolicy(YAML.parse(text)) // { ok: false, error: [{ path: 'fields.email.tier', fix: '…' }] }
 */
export function parsePolicy(document: unknown): Result<Policy, PolicyProblem[]> {
  const parsed = PolicySchema.safeParse(document);
  if (!parsed.success) {
    return {
      ok: false,
      error: parsed.error.issues.map((issue) => ({
        path: issue.path.join('.') || '(root)',
        fix:
          issue.code === 'unrecognized_keys'
            ? `Remove ${issue.keys.join(', ')}: not a policy setting.`
            : issue.message,
      })),
    };
  }
  const problems: PolicyProblem[] = [];
  const { tiers, approvalSla } = parsed.data;
  if (!approvalSla.calendars[approvalSla.defaultCalendar])
    problems.push({
      path: 'approvalSla.defaultCalendar',
      fix: `Name one of the calendars: ${Object.keys(approvalSla.calendars).join(', ')}.`,
    });
  for (const [key, calendar] of Object.entries(approvalSla.calendars)) {
    if (!isKnownTimeZone(calendar.timeZone))
      problems.push({
        path: `approvalSla.calendars.${key}.timeZone`,
        fix: `"${calendar.timeZone}" is not an IANA time zone; write e.g. Australia/Melbourne.`,
      });
  }
  // Verifying for a higher risk must also cover every lower one; otherwise a mixed request could pass
  // its highest tier while failing a lower tier's rule.
  RISK_TIERS.forEach((tier, rank) => {
    tiers[tier].verification.forEach((alternative, index) => {
      for (const weaker of RISK_TIERS.slice(0, rank)) {
        if (!isVerificationSatisfied(parsed.data, weaker, new Set(alternative))) {
          problems.push({
            path: `tiers.${tier}.verification.${index}`,
            fix: `[${alternative.join(', ')}] would not satisfy the weaker tier "${weaker}"; add it as an alternative there too.`,
          });
        }
      }
    });
  });
  const systems = connectedSystemsFor(parsed.data, FIELD_NAMES);
  if (systems.length > MAX_CONNECTED_SYSTEMS)
    problems.push({
      path: 'fields',
      fix: `Name at most ${MAX_CONNECTED_SYSTEMS} connected systems across the fields, not ${systems.length}: the completeness review counts each system as one bit of a 64-bit integer.`,
    });
  return problems.length > 0 ? { ok: false, error: problems } : { ok: true, value: parsed.data };
}

function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The calendar key for a customer in `country` / `region`: the most specific one the policy has, else its default. */
export function calendarKeyFor(policy: Policy, country: string | null, region: string | null): string {
  const { calendars, defaultCalendar } = policy.approvalSla;
  if (country && region && calendars[`${country}-${region}`]) return `${country}-${region}`;
  if (country && calendars[country]) return country;
  return defaultCalendar;
}

export const tierRank = (tier: RiskTier): number => RISK_TIERS.indexOf(tier);

/** The risk tier of a request is the highest tier among its fields. */
export function tierOfFields(policy: Policy, fields: readonly FieldName[]): RiskTier {
  return fields.reduce<RiskTier>(
    (highest, field) =>
      tierRank(policy.fields[field].tier) > tierRank(highest) ? policy.fields[field].tier : highest,
    'basic',
  );
}

/** Approval is needed if any field needs it (its own rule, or its tier's). */
export function isApprovalRequired(policy: Policy, fields: readonly FieldName[]): boolean {
  return fields.some(
    (field) =>
      policy.fields[field].approvalRequired ?? policy.tiers[policy.fields[field].tier].approvalRequired,
  );
}

/** True when the passed methods include every method of at least one of the tier's alternatives. */
export function isVerificationSatisfied(
  policy: Policy,
  tier: RiskTier,
  passedMethods: ReadonlySet<VerificationMethod>,
): boolean {
  return policy.tiers[tier].verification.some((alternative) =>
    alternative.every((method) => passedMethods.has(method)),
  );
}

/** The connected systems that hold any of the fields, each once, in policy order. */
export function connectedSystemsFor(policy: Policy, fields: readonly FieldName[]): string[] {
  return [...new Set(fields.flatMap((field) => policy.fields[field].connectedSystems))];
}

const METHOD_WORDS: Readonly<Record<VerificationMethod, string>> = {
  otp_on_file: 'a one-time code sent to an email address or phone number already on file',
  knowledge_check: 'answers to your security questions',
  account_fact: 'a detail of your account (such as date of birth or postcode on file)',
  id_document: 'a government-issued identity document',
  recent_session: 'a recent sign-in to the self-service portal',
  trusted_integration: 'the confirmation of an authorised integration',
  not_me_link: 'your report through the link in our confirmation',
};

/**
 * What the requester will be asked and what follows (procedure step 1.3), in plain words.
 * @example describeNextSteps(policy, 'legal', true) // ['Verify identity with one of: …', 'Confirm …', …]
 */
export function describeNextSteps(policy: Policy, tier: RiskTier, needsApproval: boolean): string[] {
  const alternatives = policy.tiers[tier].verification.map((alternative) =>
    alternative.map((method) => METHOD_WORDS[method]).join(' and '),
  );
  return [
    `Verify identity (${tier} risk) with one of: ${alternatives.join('; or ')}.`,
    'Confirm the new details as we read them back.',
    ...(needsApproval
      ? ['A team lead reviews and approves the change (usually within one business day).']
      : []),
    'The change is applied and sent to every connected system that holds it.',
    'A confirmation is sent to you; use its link if you did not ask for this change.',
  ];
}

/** Is a self-service sign-in recent enough to count as verification (else the customer must step up)? */
export const isRecentSignIn = (authenticatedAt: string, now: string, recentSessionMinutes: number): boolean =>
  Date.parse(now) - Date.parse(authenticatedAt) <= recentSessionMinutes * 60_000;
