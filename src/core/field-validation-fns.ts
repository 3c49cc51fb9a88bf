import { isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { z } from 'zod';
import type { FieldName } from './customer-types.ts';
import { fail, ok, type Result } from './result.ts';

/** One reason a value is invalid: a stable reason code, the path inside the value, and the fix in plain words. */
export interface FieldProblem {
  readonly reason: string;
  readonly path: string;
  readonly message: string;
}

export interface ValidationContext {
  /** ISO 3166-1 alpha-2 country used to read national phone numbers (the customer's address country). */
  readonly defaultCountry: string | null;
  /** Today's date (YYYY-MM-DD), passed in because the core has no clock. */
  readonly today: string;
}

/** What a requester may submit for communication preferences: explicit booleans per channel. */
export const PreferencesInputSchema = z
  .object({ email: z.boolean(), sms: z.boolean(), post: z.boolean(), phone: z.boolean() })
  .partial()
  .strict();
export type PreferencesInput = z.infer<typeof PreferencesInputSchema>;

// Built once: a zod schema's construction costs far more than a parse (a bulk import validates a million rows).
const EmailSchema = z.email();
const UnicodeEmailSchema = z.email({ pattern: z.regexes.unicodeEmail });
const IsoDateSchema = z.iso.date();
const AddressInputSchema = z
  .object({
    lines: z.array(z.string()).min(1).max(4),
    locality: z.string(),
    region: z.string().nullish(),
    postcode: z.string(),
    country: z.string(),
  })
  .strict();
const PaymentCardInputSchema = z
  .object({
    vaultToken: z.string().min(8).max(200),
    brand: z.string().min(2).max(30),
    last4: z.string().regex(/^\d{4}$/),
    expiryMonth: z.number().int().min(1).max(12),
    expiryYear: z.number().int().min(2000).max(2100),
  })
  .strict();
const BankAccountInputSchema = z
  .object({
    vaultToken: z.string().min(8).max(200),
    maskedIban: z.string().regex(/^[A-Z]{2}\d{2}[*\dA-Z ]{4,40}$/),
  })
  .strict();

const NAME_MAX_LENGTH = 200;
const EMAIL_MAX_LENGTH = 254;
const OLDEST_PLAUSIBLE_AGE_YEARS = 130;

/** Postcode shapes for the countries our users serve most; other countries get a length check only. */
const POSTCODE_PATTERNS: Readonly<Record<string, RegExp>> = {
  AU: /^\d{4}$/,
  NZ: /^\d{4}$/,
  US: /^\d{5}(-\d{4})?$/,
  GB: /^(GIR 0AA|[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})$/,
  CA: /^[A-Z]\d[A-Z] \d[A-Z]\d$/,
  DE: /^\d{5}$/,
  FR: /^\d{5}$/,
  IE: /^[A-Z]\d[\dW] [A-Z\d]{4}$/,
  NL: /^\d{4} [A-Z]{2}$/,
  IN: /^\d{6}$/,
  SG: /^\d{6}$/,
  JP: /^\d{3}-\d{4}$/,
};

const collapseSpaces = (text: string): string => text.normalize('NFC').trim().replace(/\s+/gu, ' ');

const problem = (reason: string, path: string, message: string): FieldProblem => ({ reason, path, message });

// Letters of any script, combining marks, spaces, apostrophes, hyphens and full stops: enough for
// "Zoë O'Brien-Łukasiewicz", "José Ma. Núñez" and "李小龍", while refusing digits and symbols.
const NAME_PATTERN = /^[\p{L}\p{M}][\p{L}\p{M} '’.-]*$/u;

function validateName(raw: unknown, path: string): Result<string, FieldProblem[]> {
  if (typeof raw !== 'string')
    return { ok: false, error: [problem('NAME.TYPE', path, 'Give the name as text.')] };
  const name = collapseSpaces(raw);
  if (name.length === 0)
    return { ok: false, error: [problem('NAME.EMPTY', path, 'Give a name; it is empty.')] };
  if (name.length > NAME_MAX_LENGTH)
    return {
      ok: false,
      error: [problem('NAME.TOO_LONG', path, `Shorten the name to ${NAME_MAX_LENGTH} characters.`)],
    };
  if (!NAME_PATTERN.test(name))
    return {
      ok: false,
      error: [
        problem('NAME.CHARACTERS', path, 'Use letters, spaces, apostrophes, hyphens and full stops only.'),
      ],
    };
  return ok(name);
}

function validateEmail(raw: unknown, path: string): Result<string, FieldProblem[]> {
  if (typeof raw !== 'string')
    return { ok: false, error: [problem('EMAIL.TYPE', path, 'Give the email address as text.')] };
  const trimmed = raw.trim();
  const at = trimmed.lastIndexOf('@');
  if (at < 1 || at === trimmed.length - 1)
    return { ok: false, error: [problem('EMAIL.SYNTAX', path, 'Write the address as name@example.com.')] };
  // Domains are case-insensitive; the local part technically is not, but no mailbox provider treats it so.
  const local = trimmed.slice(0, at);
  const domain = trimmed.slice(at + 1).toLowerCase();
  const normalized = `${local}@${domain}`;
  if (normalized.length > EMAIL_MAX_LENGTH)
    return {
      ok: false,
      error: [problem('EMAIL.TOO_LONG', path, `Use an address of at most ${EMAIL_MAX_LENGTH} characters.`)],
    };
  // Practical RFC 5321/5322: zod's address syntax (its Unicode variant for internationalised addresses),
  // and a dotted domain, since no mailbox a customer uses lives on a bare top-level name.
  const isAscii = /^[\x20-\x7e]*$/.test(normalized);
  const syntax = isAscii ? EmailSchema : UnicodeEmailSchema;
  if (!syntax.safeParse(normalized).success || !/\.[\p{L}\p{N}-]{2,}$/u.test(domain))
    return { ok: false, error: [problem('EMAIL.SYNTAX', path, 'Write the address as name@example.com.')] };
  return ok(normalized);
}

function validatePhone(
  raw: unknown,
  path: string,
  context: ValidationContext,
): Result<string, FieldProblem[]> {
  if (typeof raw !== 'string')
    return { ok: false, error: [problem('PHONE.TYPE', path, 'Give the phone number as text.')] };
  const country =
    context.defaultCountry && isSupportedCountry(context.defaultCountry) ? context.defaultCountry : undefined;
  const parsed = parsePhoneNumberFromString(raw, country);
  if (!parsed)
    return {
      ok: false,
      error: [problem('PHONE.SYNTAX', path, 'Write the number with its country code, e.g. +61 412 345 678.')],
    };
  if (!parsed.isValid())
    return {
      ok: false,
      error: [
        problem('PHONE.INVALID', path, `This is not a valid number for ${parsed.country ?? 'its country'}.`),
      ],
    };
  return ok(parsed.number);
}

function validateAddress(raw: unknown, path: string): Result<unknown, FieldProblem[]> {
  const shape = AddressInputSchema.safeParse(raw);
  if (!shape.success)
    return {
      ok: false,
      error: shape.error.issues.map((issue) =>
        problem(
          'ADDRESS.SHAPE',
          [path, ...issue.path].join('.'),
          `Fix this part of the address: ${issue.message}.`,
        ),
      ),
    };
  const address = shape.data;
  const problems: FieldProblem[] = [];
  const country = address.country.trim().toUpperCase();
  if (!isSupportedCountry(country))
    problems.push(
      problem(
        'ADDRESS.COUNTRY',
        `${path}.country`,
        'Use an ISO 3166-1 alpha-2 country code, e.g. AU, GB, US.',
      ),
    );
  const lines = address.lines.map(collapseSpaces).filter((line) => line.length > 0);
  if (lines.length === 0)
    problems.push(problem('ADDRESS.LINES', `${path}.lines`, 'Give at least one address line.'));
  const locality = collapseSpaces(address.locality);
  if (locality.length === 0)
    problems.push(problem('ADDRESS.LOCALITY', `${path}.locality`, 'Give the town or suburb.'));
  const postcode = collapseSpaces(address.postcode).toUpperCase();
  const pattern = POSTCODE_PATTERNS[country];
  if (pattern ? !pattern.test(postcode) : postcode.length > 12)
    problems.push(
      problem('ADDRESS.POSTCODE', `${path}.postcode`, `Give a postcode in the format used in ${country}.`),
    );
  const region = address.region ? collapseSpaces(address.region).toUpperCase() : null;
  if ((country === 'AU' || country === 'US' || country === 'CA') && !region)
    problems.push(
      problem(
        'ADDRESS.REGION',
        `${path}.region`,
        `Give the state or province; ${country} addresses need it.`,
      ),
    );
  if (problems.length > 0) return { ok: false, error: problems };
  return ok({ lines, locality, region, postcode, country });
}

function validateDateOfBirth(
  raw: unknown,
  path: string,
  context: ValidationContext,
): Result<string, FieldProblem[]> {
  if (typeof raw !== 'string' || !IsoDateSchema.safeParse(raw).success)
    return { ok: false, error: [problem('DATE.SYNTAX', path, 'Write the date as YYYY-MM-DD.')] };
  if (raw > context.today)
    return { ok: false, error: [problem('DATE.FUTURE', path, 'A date of birth cannot be in the future.')] };
  const oldest = `${Number(context.today.slice(0, 4)) - OLDEST_PLAUSIBLE_AGE_YEARS}${context.today.slice(4)}`;
  if (raw < oldest)
    return {
      ok: false,
      error: [problem('DATE.IMPLAUSIBLE', path, 'Check the year; this date is too long ago.')],
    };
  return ok(raw);
}

function validatePreferences(raw: unknown, path: string): Result<PreferencesInput, FieldProblem[]> {
  const parsed = PreferencesInputSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      error: [problem('PREFERENCES.SHAPE', path, 'Give true or false per channel: email, sms, post, phone.')],
    };
  if (Object.keys(parsed.data).length === 0)
    return { ok: false, error: [problem('PREFERENCES.EMPTY', path, 'Name at least one channel to change.')] };
  return ok(parsed.data);
}

function validatePaymentMethod(
  raw: unknown,
  path: string,
  context: ValidationContext,
): Result<unknown, FieldProblem[]> {
  const parsed = PaymentCardInputSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      error: parsed.error.issues.map((issue) =>
        problem(
          'PAYMENT.SHAPE',
          [path, ...issue.path].join('.'),
          'Give the vault token, brand, last 4 digits and expiry of the card; never the card number.',
        ),
      ),
    };
  const [year, month] = context.today.split('-').map(Number) as [number, number];
  if (parsed.data.expiryYear < year || (parsed.data.expiryYear === year && parsed.data.expiryMonth < month))
    return {
      ok: false,
      error: [problem('PAYMENT.EXPIRED', `${path}.expiryYear`, 'The card has expired; use a current card.')],
    };
  return ok({ ...parsed.data, brand: parsed.data.brand.toLowerCase() });
}

function validateBankAccount(raw: unknown, path: string): Result<unknown, FieldProblem[]> {
  const parsed = BankAccountInputSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      error: [
        problem('BANK.SHAPE', path, 'Give the vault token and the masked IBAN (e.g. GB29 **** **** 6819).'),
      ],
    };
  return ok(parsed.data);
}

/**
 * Checks and normalises a proposed value for one field. Pure: the date and default country come in.
 * `null` clears an optional field (preferred name, phone).
 * @example validateFieldValue('email', ' Ana@Example.COM ', ctx) // ok('Ana@example.com')
 */
export function validateFieldValue(
  field: FieldName,
  raw: unknown,
  context: ValidationContext,
  path: string = field,
): Result<unknown, FieldProblem[]> {
  if (raw === null && (field === 'preferredName' || field === 'phone')) return ok(null);
  switch (field) {
    case 'legalName':
    case 'preferredName':
      return validateName(raw, path);
    case 'email':
      return validateEmail(raw, path);
    case 'phone':
      return validatePhone(raw, path, context);
    case 'postalAddress':
      return validateAddress(raw, path);
    case 'dateOfBirth':
      return validateDateOfBirth(raw, path, context);
    case 'communicationPreferences':
      return validatePreferences(raw, path);
    case 'paymentMethod':
      return validatePaymentMethod(raw, path, context);
    case 'bankAccount':
      return validateBankAccount(raw, path);
  }
}

/** The same check as a domain result, for callers that report one error with all problems listed. */
export function requireValidFieldValue(field: FieldName, raw: unknown, context: ValidationContext) {
  const result = validateFieldValue(field, raw, context);
  if (result.ok) return result;
  return fail('FIELD.INVALID', `The new value for ${field} is not valid.`, { field, errors: result.error });
}

export type PhoneLineType = 'mobile' | 'fixed_line' | 'fixed_line_or_mobile' | 'other' | 'unknown';

/**
 * What kind of line a stored (E.164) number is: a code can be texted only to a mobile. North American numbers
 * do not say, so they answer `fixed_line_or_mobile`.
 * @example phoneLineType('+61412345678') // 'mobile'
 */
export function phoneLineType(e164: string): PhoneLineType {
  const type = parsePhoneNumberFromString(e164)?.getType();
  if (type === 'MOBILE') return 'mobile';
  if (type === 'FIXED_LINE') return 'fixed_line';
  if (type === 'FIXED_LINE_OR_MOBILE') return 'fixed_line_or_mobile';
  return type ? 'other' : 'unknown';
}
