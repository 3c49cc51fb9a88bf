import { z } from 'zod';

/** The fields a change request may change, in the domain's words. */
export const FIELD_NAMES = [
  'legalName',
  'preferredName',
  'email',
  'phone',
  'postalAddress',
  'dateOfBirth',
  'communicationPreferences',
  'paymentMethod',
  'bankAccount',
] as const;
export const FieldNameSchema = z.enum(FIELD_NAMES);
export type FieldName = z.infer<typeof FieldNameSchema>;

/** Fields are confirmed in groups: confirming an address confirms all its lines at once. */
export const FIELD_GROUPS = ['name', 'contact', 'address', 'identity', 'preferences', 'payment'] as const;
export type FieldGroup = (typeof FIELD_GROUPS)[number];

export const FIELD_GROUP_OF: Readonly<Record<FieldName, FieldGroup>> = {
  legalName: 'name',
  preferredName: 'name',
  email: 'contact',
  phone: 'contact',
  postalAddress: 'address',
  dateOfBirth: 'identity',
  communicationPreferences: 'preferences',
  paymentMethod: 'payment',
  bankAccount: 'payment',
};

export const COMMUNICATION_CHANNELS = ['email', 'sms', 'post', 'phone'] as const;
export type CommunicationChannel = (typeof COMMUNICATION_CHANNELS)[number];

export const PostalAddressSchema = z.object({
  lines: z.array(z.string()).min(1).max(4),
  locality: z.string(),
  region: z.string().nullable().default(null),
  postcode: z.string(),
  country: z.string(),
});
export type PostalAddress = z.infer<typeof PostalAddressSchema>;

/** One channel's consent, with when and through which channel it last changed (spam law wants the trail). */
export const ConsentSchema = z.object({
  isGranted: z.boolean(),
  changedAt: z.string().nullable(),
  source: z.string().nullable(),
});
export type Consent = z.infer<typeof ConsentSchema>;

export const CommunicationPreferencesSchema = z.object({
  email: ConsentSchema,
  sms: ConsentSchema,
  post: ConsentSchema,
  phone: ConsentSchema,
});
export type CommunicationPreferences = z.infer<typeof CommunicationPreferencesSchema>;

/** A card as the vault knows it. The card number never reaches Amend's storage. */
export const PaymentMethodSchema = z.object({
  vaultToken: z.string(),
  brand: z.string(),
  last4: z.string(),
  expiryMonth: z.number().int(),
  expiryYear: z.number().int(),
});
export type PaymentMethod = z.infer<typeof PaymentMethodSchema>;

export const BankAccountSchema = z.object({
  vaultToken: z.string(),
  maskedIban: z.string(),
});
export type BankAccount = z.infer<typeof BankAccountSchema>;

export const CustomerSchema = z.object({
  id: z.string(),
  version: z.number().int(),
  legalName: z.string(),
  preferredName: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  postalAddress: PostalAddressSchema.nullable(),
  dateOfBirth: z.string().nullable(),
  communicationPreferences: CommunicationPreferencesSchema,
  paymentMethod: PaymentMethodSchema.nullable(),
  bankAccount: BankAccountSchema.nullable(),
  /** Set while a security case holds the record: no change but its revert is applied until a team lead resolves it. */
  freeze: z.object({ caseId: z.string(), frozenAt: z.string(), reason: z.string() }).nullable(),
  /** Per field group, when the customer last confirmed it was right: not merely when it last changed. */
  confirmedAt: z.record(z.enum(FIELD_GROUPS), z.string().nullable()),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Customer = z.infer<typeof CustomerSchema>;

/** The value of one field as held on a customer record. */
export type FieldValue = Customer[FieldName];

export const NO_CONSENT: Consent = { isGranted: false, changedAt: null, source: null };

export const emptyConfirmations = (): Customer['confirmedAt'] =>
  Object.fromEntries(FIELD_GROUPS.map((group) => [group, null])) as Customer['confirmedAt'];
