import type { ChangeRequest, Channel } from './change-request-types.ts';
import type {
  CommunicationPreferences,
  Customer,
  FieldName,
  PaymentMethod,
  PostalAddress,
} from './customer-types.ts';
import { maskFieldValue } from './masking-fns.ts';

export type ConfirmationLocale = 'en-AU' | 'en-GB' | 'en-US';

export interface SupportContact {
  readonly phone: string;
  readonly email: string;
}

export interface ConfirmationRecipient {
  readonly address: string;
  /** `previous`: the address an email change replaced, told too, as a safeguard. */
  readonly role: 'current' | 'previous';
}

export interface RenderedConfirmation {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Which English a customer reads, from their address. */
export const localeFor = (country: string | null | undefined): ConfirmationLocale =>
  country === 'US' ? 'en-US' : country === 'GB' ? 'en-GB' : 'en-AU';

/** The address on file now and, for an email change, the one it replaced (procedure step 6 tip). */
export function confirmationRecipients(request: ChangeRequest, customer: Customer): ConfirmationRecipient[] {
  const recipients: ConfirmationRecipient[] = customer.email
    ? [{ address: customer.email, role: 'current' }]
    : [];
  const emailChange = request.items.find((item) => item.field === 'email');
  const previous = typeof emailChange?.previous === 'string' ? emailChange.previous : null;
  if (previous && previous.toLowerCase() !== customer.email?.toLowerCase())
    recipients.push({ address: previous, role: 'previous' });
  return recipients;
}

const LABELS: Record<FieldName, string> = {
  legalName: 'Legal name',
  preferredName: 'Preferred name',
  email: 'Email address',
  phone: 'Phone number',
  postalAddress: 'Postal address',
  dateOfBirth: 'Date of birth',
  communicationPreferences: 'Communication preferences',
  paymentMethod: 'Payment card',
  bankAccount: 'Bank account',
};

const CHANNEL_WORDS: Record<Channel, string> = {
  self_service: 'online, in your account',
  phone: 'by phone with our team',
  email: 'by email with our team',
  chat: 'in a chat with our team',
  in_person: 'in person with our team',
  api: 'through a connected service',
  batch: 'in a bulk update',
};

// Values a mail must not carry in full: contact points, money, identity. Names and addresses are shown.
const MASKED_FIELDS: ReadonlySet<FieldName> = new Set([
  'email',
  'phone',
  'paymentMethod',
  'bankAccount',
  'dateOfBirth',
]);

const WORDING: Record<ConfirmationLocale, { authorised: string; cancelled: string }> = {
  'en-AU': { authorised: 'authorised', cancelled: 'cancelled' },
  'en-GB': { authorised: 'authorised', cancelled: 'cancelled' },
  'en-US': { authorised: 'authorized', cancelled: 'canceled' },
};

function describeValue(field: FieldName, value: unknown): string {
  if (value === null || value === undefined) return '(removed)';
  const shown = MASKED_FIELDS.has(field) ? maskFieldValue(field, value) : value;
  switch (field) {
    case 'postalAddress': {
      const address = shown as PostalAddress;
      return [
        ...address.lines,
        [address.locality, address.region, address.postcode].filter(Boolean).join(' '),
        address.country,
      ].join(', ');
    }
    case 'communicationPreferences':
      return Object.entries(shown as CommunicationPreferences)
        .map(
          ([channel, consent]) =>
            `${channel === 'sms' ? 'SMS' : channel[0]!.toUpperCase() + channel.slice(1)}: ${consent.isGranted ? 'yes' : 'no'}`,
        )
        .join(', ');
    case 'paymentMethod': {
      const card = shown as PaymentMethod;
      return `${card.brand[0]?.toUpperCase()}${card.brand.slice(1)} ending ${card.last4}, expires ${String(card.expiryMonth).padStart(2, '0')}/${card.expiryYear}`;
    }
    case 'bankAccount':
      return `account ${(shown as { maskedIban: string }).maskedIban}`;
    default:
      return String(shown);
  }
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!,
  );

export interface ConfirmationInput {
  readonly request: ChangeRequest;
  readonly customer: Customer;
  readonly recipient: ConfirmationRecipient;
  readonly locale: ConfirmationLocale;
  readonly timeZone: string;
  readonly notMeUrl: string;
  readonly notMeLifetimeDays: number;
  readonly support: SupportContact;
}

// Building an Intl.DateTimeFormat loads ICU data and was a third of a confirmation's rendering; a formatter is
// immutable, so one per locale and time zone serves every mail.
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();
function dateTimeFormat(locale: string, timeZone: string): Intl.DateTimeFormat {
  const key = `${locale} ${timeZone}`;
  let format = dateTimeFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone });
    dateTimeFormats.set(key, format);
  }
  return format;
}

/**
 * The confirmation of a completed change (procedure step 6): what changed (contact points and money masked),
 * when, through which channel, a reminder when the sign-in email changed, the "this wasn't me" link and how
 * to reach support. Plain text and HTML, in the customer's English.
 * @example renderConfirmation({ request, customer, recipient, locale: 'en-GB', … }).subject
 */
export function renderConfirmation(input: ConfirmationInput): RenderedConfirmation {
  const { request, customer, recipient, locale, support } = input;
  const words = WORDING[locale];
  const when = dateTimeFormat(locale, input.timeZone).format(
    new Date(request.appliedAt ?? request.updatedAt),
  );
  const rows = request.items.map((item) => ({
    label: LABELS[item.field],
    value: describeValue(item.field, customer[item.field]),
  }));
  const greeting = `Hello ${customer.preferredName ?? customer.legalName.split(' ')[0] ?? ''},`.replace(
    ' ,',
    ',',
  );
  const newEmail = request.items.some((item) => item.field === 'email') ? customer.email : null;
  const reminder =
    newEmail && recipient.role === 'current'
      ? `From now on, sign in and receive our emails at ${newEmail}.`
      : recipient.role === 'previous'
        ? 'This address is no longer on your account: we are telling you here too in case you did not make this change.'
        : null;
  const notMe = `If you did not ask for this change, tell us with this link (valid for ${input.notMeLifetimeDays} days) and we will stop any further changes to your account straight away:`;
  const contact = `Questions, or something not right? Call us on ${support.phone} or write to ${support.email}, quoting reference ${request.id.slice(0, 8)}.`;
  const subject = 'Your details have been updated';
  const text = [
    greeting,
    '',
    `On ${when} we updated your details, as ${words.authorised} ${CHANNEL_WORDS[request.channel]}:`,
    ...rows.map((row) => `  - ${row.label}: ${row.value}`),
    '',
    ...(reminder ? [reminder, ''] : []),
    notMe,
    input.notMeUrl,
    '',
    contact,
  ].join('\n');
  const html = `<!doctype html><html lang="${locale}"><body style="font-family:Arial,sans-serif;color:#1a1a1a;max-width:560px">
<p>${escapeHtml(greeting)}</p>
<p>On ${escapeHtml(when)} we updated your details, as ${words.authorised} ${escapeHtml(CHANNEL_WORDS[request.channel])}:</p>
<table style="border-collapse:collapse">${rows.map((row) => `<tr><th style="text-align:left;padding:4px 12px 4px 0">${escapeHtml(row.label)}</th><td style="padding:4px 0">${escapeHtml(row.value)}</td></tr>`).join('')}</table>
${reminder ? `<p><strong>${escapeHtml(reminder)}</strong></p>` : ''}
<p>${escapeHtml(notMe)}</p>
<p><a href="${escapeHtml(input.notMeUrl)}" style="display:inline-block;background:#b00020;color:#fff;padding:10px 16px;text-decoration:none;border-radius:4px">This wasn't me</a></p>
<p style="color:#555">${escapeHtml(contact)}</p>
</body></html>`;
  return { subject, text, html };
}
