import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isDisposableDomain } from '../../adapters/disposable-domains.ts';
import { FieldNameSchema } from '../../core/customer-types.ts';
import { type FieldProblem, phoneLineType, validateFieldValue } from '../../core/field-validation-fns.ts';
import { checkBankAccount, checkCard, fieldWarnings } from '../../core/payment-input-fns.ts';
import type { Result } from '../../core/result.ts';
import { isSameValue } from '../../core/value-fns.ts';
import { ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import type { ServerDeps } from '../server-deps.ts';

const ProblemItemSchema = z.object({ reason: z.string(), path: z.string(), message: z.string() });

export function registerValidateRoutes(app: FastifyInstance, deps: ServerDeps): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/v1/validate',
    {
      config: { action: 'validate.fields' },
      schema: {
        tags: ['validation'],
        summary:
          'Check and normalise one value as a change request would (procedure step 3), for forms and integrations',
        description:
          'A card (`paymentMethod` with cardNumber) or bank account (`bankAccount` with iban) is checked but never echoed: only brand and last 4, or the masked IBAN, come back. With `customerId`, also warns when the value is already on file or another customer holds it.',
        body: z.strictObject({
          field: FieldNameSchema,
          value: z.unknown(),
          country: z
            .string()
            .regex(/^[A-Z]{2}$/)
            .optional()
            .describe('ISO 3166-1 alpha-2, to read national phone numbers.'),
          customerId: z.uuid().optional(),
        }),
        response: {
          200: z.object({
            valid: z.boolean(),
            normalized: z.unknown(),
            errors: z.array(ProblemItemSchema),
            warnings: z.array(ProblemItemSchema),
            lineType: z
              .enum(['mobile', 'fixed_line', 'fixed_line_or_mobile', 'other', 'unknown'])
              .optional()
              .describe('For phone numbers: a code can be texted only to a mobile.'),
          }),
          400: ProblemSchema,
          401: ProblemSchema,
          403: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const { field, value } = request.body;
      const actor = request.principal!.actor;
      // A customer compares values with their own record only; another id is "not found".
      if (actor.kind === 'customer' && request.body.customerId && request.body.customerId !== actor.id)
        return sendProblem(reply, request, {
          code: 'CUSTOMER.NOT_FOUND',
          message: `No customer has id ${request.body.customerId}.`,
        });
      const customer = request.body.customerId
        ? await deps.store.findCustomer(request.body.customerId)
        : null;
      const today = deps.clock.now().toISOString().slice(0, 10);
      const raw = value as Record<string, unknown> | null;
      let checked: Result<unknown, FieldProblem[]>;
      if (field === 'paymentMethod' && raw && typeof raw === 'object' && 'cardNumber' in raw) {
        const card = checkCard(raw, today);
        checked = card.ok
          ? {
              ok: true,
              value: {
                brand: card.value.brand,
                last4: card.value.last4,
                expiryMonth: card.value.expiryMonth,
                expiryYear: card.value.expiryYear,
              },
            }
          : card;
      } else if (field === 'bankAccount' && raw && typeof raw === 'object' && 'iban' in raw) {
        const bank = checkBankAccount(raw);
        checked = bank.ok
          ? { ok: true, value: { maskedIban: bank.value.maskedIban, bic: bank.value.bic } }
          : bank;
      } else {
        checked = validateFieldValue(
          field,
          value,
          { defaultCountry: request.body.country ?? customer?.postalAddress?.country ?? null, today },
          'value',
        );
      }
      if (!checked.ok) return { valid: false, normalized: null, errors: checked.error, warnings: [] };
      const warnings = fieldWarnings(field, checked.value, { isDisposableDomain });
      if (customer && isSameValue(customer[field], checked.value))
        warnings.push({
          reason: 'FIELD.UNCHANGED',
          path: 'value',
          message: 'This is already on file for the customer.',
        });
      if (customer && (field === 'email' || field === 'phone')) {
        const others = await deps.store.customersWithContact(
          { [field]: checked.value as string },
          customer.id,
        );
        if (others.length > 0)
          warnings.push({
            reason: 'CONTACT.IN_USE',
            path: 'value',
            message:
              'Another customer holds this contact point; a change to it will be escalated for review.',
          });
      }
      return {
        valid: true,
        normalized: checked.value,
        errors: [],
        warnings,
        ...(field === 'phone' && typeof checked.value === 'string'
          ? { lineType: phoneLineType(checked.value) }
          : {}),
      };
    },
  );
}
