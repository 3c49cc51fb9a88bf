import type { ErrorCode } from './error-catalogue.ts';

/** A domain error: a stable code from the catalogue, a message in product words, and safe context. */
export interface DomainError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly [context: string]: unknown;
}

/** The outcome of a core function: a value, or a typed error. No exceptions cross the core boundary. */
export type Result<T, E = DomainError> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });

/**
 * @example fail('CHANGE_REQUEST.NOT_FOUND', 'No change request 42.', { changeRequestId: '42' })
 */
export const fail = (
  code: ErrorCode,
  message: string,
  context: Record<string, unknown> = {},
): Result<never> => ({
  ok: false,
  error: { ...context, code, message },
});
