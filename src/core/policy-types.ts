import { z } from 'zod';
import { FIELD_NAMES, FieldNameSchema } from './customer-types.ts';

export const RISK_TIERS = ['basic', 'standard', 'sensitive', 'legal'] as const;
export const RiskTierSchema = z.enum(RISK_TIERS);
export type RiskTier = z.infer<typeof RiskTierSchema>;

/**
 * The ways identity can be proven. `otp_on_file`, `recent_session` and `trusted_integration` are recorded
 * by the system itself; the others are attested by staff with evidence.
 */
export const VERIFICATION_METHODS = [
  'otp_on_file',
  'knowledge_check',
  'account_fact',
  'id_document',
  'recent_session',
  'trusted_integration',
  // The customer's own report through the signed link in a confirmation: authorises only a revert.
  'not_me_link',
] as const;
export const VerificationMethodSchema = z.enum(VERIFICATION_METHODS);
export type VerificationMethod = z.infer<typeof VerificationMethodSchema>;

const TierRuleSchema = z.strictObject({
  description: z.string().min(1),
  /** Any one alternative satisfies the tier; an alternative needs every method it lists. */
  verification: z.array(z.array(VerificationMethodSchema).min(1)).min(1),
  approvalRequired: z.boolean(),
});

const FieldRuleSchema = z.strictObject({
  tier: RiskTierSchema,
  /** Overrides the tier's approval rule for this field. */
  approvalRequired: z.boolean().optional(),
  /** May a customer request this change through the self-service portal? */
  selfService: z.boolean(),
  /** Ids of the connected systems that hold this field and must receive the change. */
  connectedSystems: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,62}$/)),
  /**
   * Supporting documents a change to this field needs (document types, e.g. marriage_certificate), any one of
   * which will do. Until one is uploaded the request is returned for clarification, listing what is missing.
   */
  supportingDocuments: z.array(z.string().regex(/^[a-z_]{3,40}$/)).default([]),
});
export type FieldRule = z.infer<typeof FieldRuleSchema>;

export const SEVERITIES = ['low', 'medium', 'high'] as const;
export const SeveritySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof SeveritySchema>;

export const PolicySchema = z.strictObject({
  version: z.literal(1),
  tiers: z.strictObject(
    Object.fromEntries(RISK_TIERS.map((tier) => [tier, TierRuleSchema])) as Record<
      (typeof RISK_TIERS)[number],
      typeof TierRuleSchema
    >,
  ),
  fields: z.strictObject(
    Object.fromEntries(FIELD_NAMES.map((field) => [field, FieldRuleSchema])) as Record<
      (typeof FIELD_NAMES)[number],
      typeof FieldRuleSchema
    >,
  ),
  /** A change request not applied within this many days expires. */
  requestLifetimeDays: z.number().int().min(1).max(365).default(14),
  /** When approvals are due, on which working calendar (FAQ: one to two business days). */
  approvalSla: z
    .strictObject({
      businessDays: z.number().int().min(1).max(30).default(1),
      /** Key of the calendar used when the customer's country (or country-region) has none of its own. */
      defaultCalendar: z.string().default('AU-VIC'),
      /** Keyed `CC` or `CC-REGION` (ISO 3166); the customer's address picks the most specific match. */
      calendars: z
        .record(
          z.string().regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/),
          z.strictObject({
            country: z.string().length(2),
            region: z.string().optional(),
            timeZone: z.string().min(1),
          }),
        )
        .default({
          'AU-VIC': { country: 'AU', region: 'VIC', timeZone: 'Australia/Melbourne' },
          AU: { country: 'AU', timeZone: 'Australia/Sydney' },
          GB: { country: 'GB', timeZone: 'Europe/London' },
          US: { country: 'US', timeZone: 'America/New_York' },
        }),
    })
    .prefault({}),
  /**
   * A withdrawn consent must reach these (marketing) systems within this many business days: ACMA's spam
   * rules allow 5, CAN-SPAM 10. Deliveries past the deadline are flagged as breaches.
   */
  /** Identity checks (procedure step 2): one-time codes, and the lockout after repeated failures (step 2.3). */
  verification: z
    .strictObject({
      otpLifetimeMinutes: z.number().int().min(1).max(60).default(10),
      otpMaxAttempts: z.number().int().min(1).max(10).default(5),
      failureLimit: z.number().int().min(1).max(50).default(5),
      failureWindowMinutes: z.number().int().min(1).max(1440).default(15),
      lockoutMinutes: z.number().int().min(1).max(10080).default(60),
      /** A self-service sign-in this recent counts as verification; older sessions must sign in again (step up). */
      recentSessionMinutes: z.number().int().min(1).max(120).default(15),
      /** How long a customer's self-service session lasts at most. */
      customerSessionMinutes: z.number().int().min(5).max(480).default(30),
    })
    .prefault({}),
  /** Thresholds of the anomaly rules (procedure step 8.2); a flag at or above `holdSeverity` holds pending changes. */
  anomalyRules: z
    .strictObject({
      manyChangesToOneCustomer: z
        .strictObject({
          count: z.number().int().min(2).default(3),
          windowHours: z.number().min(1).default(24),
          severity: SeveritySchema.default('medium'),
        })
        .prefault({}),
      // Medium by default: integrations legitimately touch many customers, so this one informs rather than holds.
      oneSourceManyCustomers: z
        .strictObject({
          count: z.number().int().min(2).default(5),
          windowHours: z.number().min(0.25).default(1),
          severity: SeveritySchema.default('medium'),
        })
        .prefault({}),
      sensitiveAfterFailedVerification: z
        .strictObject({
          windowHours: z.number().min(1).default(24),
          severity: SeveritySchema.default('high'),
        })
        .prefault({}),
      contactThenPayment: z
        .strictObject({ windowDays: z.number().min(1).default(7), severity: SeveritySchema.default('high') })
        .prefault({}),
      notMeReport: z.strictObject({ severity: SeveritySchema.default('high') }).prefault({}),
      holdSeverity: SeveritySchema.default('high'),
    })
    .prefault({}),
  optOutDeadline: z
    .strictObject({
      businessDays: z.number().int().min(1).max(30).default(5),
      systems: z.array(z.string()).default(['marketing']),
    })
    .prefault({}),
});
export type Policy = z.infer<typeof PolicySchema>;
export type TierRule = Policy['tiers'][RiskTier];

export { FieldNameSchema };
