import {
  COMMUNICATION_CHANNELS,
  type Customer,
  emptyConfirmations,
  FIELD_GROUP_OF,
  type FieldName,
  NO_CONSENT,
} from './customer-types.ts';
import { type FieldProblem, type PreferencesInput, validateFieldValue } from './field-validation-fns.ts';
import type { Result } from './result.ts';

/** A new customer as given by an import file or the demo seed; every value is validated like a change. */
export interface NewCustomerInput {
  readonly legalName: unknown;
  readonly preferredName?: unknown;
  readonly email?: unknown;
  readonly phone?: unknown;
  readonly postalAddress?: unknown;
  readonly dateOfBirth?: unknown;
  readonly communicationPreferences?: unknown;
}

const OPTIONAL_FIELDS = [
  'preferredName',
  'email',
  'phone',
  'postalAddress',
  'dateOfBirth',
  'communicationPreferences',
] as const satisfies readonly FieldName[];

/**
 * Builds a version-1 customer record from validated, normalised values. The values given count as confirmed
 * now (they came from the customer through `source`); consent changes record time and source.
 * @example newCustomer({ legalName: 'Ana López', email: 'ana@example.com' }, { id, now, source: 'import' })
 */
export function newCustomer(
  input: NewCustomerInput,
  meta: { id: string; now: string; source: string },
): Result<Customer, FieldProblem[]> {
  const problems: FieldProblem[] = [];
  const values: Partial<Record<FieldName, unknown>> = {};
  const address = input.postalAddress as { country?: unknown } | undefined;
  const context = {
    defaultCountry: typeof address?.country === 'string' ? address.country.toUpperCase() : null,
    today: meta.now.slice(0, 10),
  };
  const legalName = validateFieldValue('legalName', input.legalName, context);
  if (legalName.ok) values.legalName = legalName.value;
  else problems.push(...legalName.error);
  for (const field of OPTIONAL_FIELDS) {
    const raw = input[field];
    if (raw === undefined || raw === null || raw === '') continue;
    const checked = validateFieldValue(field, raw, context);
    if (checked.ok) values[field] = checked.value;
    else problems.push(...checked.error);
  }
  if (problems.length > 0) return { ok: false, error: problems };
  const confirmedAt = emptyConfirmations();
  for (const field of Object.keys(values) as FieldName[]) confirmedAt[FIELD_GROUP_OF[field]] = meta.now;
  const preferences = (values.communicationPreferences ?? {}) as PreferencesInput;
  const communicationPreferences = Object.fromEntries(
    COMMUNICATION_CHANNELS.map((channel) => [
      channel,
      preferences[channel] === undefined
        ? NO_CONSENT
        : { isGranted: preferences[channel], changedAt: meta.now, source: meta.source },
    ]),
  ) as Customer['communicationPreferences'];
  return {
    ok: true,
    value: {
      id: meta.id,
      version: 1,
      legalName: values.legalName as string,
      preferredName: (values.preferredName as string | undefined) ?? null,
      email: (values.email as string | undefined) ?? null,
      phone: (values.phone as string | undefined) ?? null,
      postalAddress: (values.postalAddress as Customer['postalAddress'] | undefined) ?? null,
      dateOfBirth: (values.dateOfBirth as string | undefined) ?? null,
      communicationPreferences,
      paymentMethod: null,
      bankAccount: null,
      freeze: null,
      confirmedAt,
      createdAt: meta.now,
      updatedAt: meta.now,
    },
  };
}
