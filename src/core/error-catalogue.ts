/**
 * The one catalogue of error codes. Each code keeps its meaning forever: clients branch on it.
 * `status` is the HTTP status, `exitCode` the CLI's exit code (sysexits-style where one fits).
 * docs/error-codes.md is generated from this table (`npm run docs:errors`).
 */
export const ERROR_CATALOGUE = {
  /** The HTTP request or CLI input does not match the schema; `errors` names each field and the fix. */
  'REQUEST.INVALID': { status: 400, exitCode: 64, title: 'The request is malformed' },
  /** The request body is larger than the server accepts. */
  'REQUEST.TOO_LARGE': { status: 413, exitCode: 64, title: 'The request is too large' },
  /** The route does not exist. */
  'REQUEST.ROUTE_NOT_FOUND': { status: 404, exitCode: 64, title: 'No such endpoint' },
  /** The path exists but not under this method; the `Allow` header lists the methods it answers. */
  'REQUEST.METHOD_NOT_ALLOWED': { status: 405, exitCode: 64, title: 'Method not allowed here' },
  /** The body's Content-Type is not one the endpoint reads (JSON; multipart/form-data for document uploads). */
  'REQUEST.UNSUPPORTED_MEDIA_TYPE': { status: 415, exitCode: 64, title: 'Content type not accepted' },
  /** The request's headers are larger than the server reads (16 KiB in all). */
  'REQUEST.HEADERS_TOO_LARGE': { status: 431, exitCode: 64, title: 'The request headers are too large' },
  /** The request did not arrive in time (its headers or body came too slowly); nothing was read or changed. */
  'REQUEST.TIMEOUT': { status: 408, exitCode: 75, title: 'The request took too long to arrive' },
  /** Too many attempts from this address at a public endpoint (sign-in, "this wasn't me"); wait for `Retry-After`. */
  'REQUEST.RATE_LIMITED': { status: 429, exitCode: 75, title: 'Too many attempts' },
  /** No credentials, or credentials that match no active API key. */
  'AUTH.UNAUTHENTICATED': { status: 401, exitCode: 77, title: 'Authentication required' },
  /** The caller's role (or API key's scopes) may not perform this action; docs/roles.md lists who may. */
  'AUTH.FORBIDDEN': { status: 403, exitCode: 77, title: 'Not allowed for your role' },
  /** Staff sign-in refused: the email, password or TOTP code is wrong (which one is deliberately not said). */
  'AUTH.SIGN_IN_FAILED': { status: 401, exitCode: 77, title: 'Sign-in failed' },
  /** Too many failed sign-ins: the staff account is locked for `retryAfterSeconds` (doubling, at most an hour). */
  'AUTH.LOCKED_OUT': { status: 429, exitCode: 75, title: 'Account locked for a while' },
  /** A state-changing call with a session cookie lacked the X-CSRF-Token header of that session. */
  'AUTH.CSRF_REJECTED': { status: 403, exitCode: 77, title: 'CSRF token missing or wrong' },
  /** A staff member already has this email. */
  'STAFF.EMAIL_TAKEN': { status: 409, exitCode: 65, title: 'Email already enrolled' },
  /** No audit entry has this id. */
  'AUDIT.ENTRY_NOT_FOUND': { status: 404, exitCode: 66, title: 'Audit entry not found' },
  /** No API key has this id. */
  'API_KEY.NOT_FOUND': { status: 404, exitCode: 66, title: 'API key not found' },
  /** No customer has this id (or the caller may not see it). */
  'CUSTOMER.NOT_FOUND': { status: 404, exitCode: 66, title: 'Customer not found' },
  /** The customer record changed since the value being replaced was read; nothing was overwritten. */
  'CUSTOMER.VERSION_CONFLICT': { status: 409, exitCode: 75, title: 'The customer record changed meanwhile' },
  /** A security case froze the customer's record; only its revert may change it until a team lead resolves the case. */
  'CUSTOMER.FROZEN': { status: 423, exitCode: 75, title: 'Customer record frozen' },
  /** Too many failed identity checks: the customer's changes are locked until the time given; use another method. */
  'CUSTOMER.VERIFICATION_LOCKED': { status: 423, exitCode: 75, title: 'Verification locked' },
  /** The one-time code is wrong; `attemptsLeft` says how many tries remain. */
  'OTP.WRONG_CODE': { status: 422, exitCode: 65, title: 'Wrong code' },
  /** The one-time code expired, was used, or ran out of tries: ask for a new one. */
  'OTP.NOT_USABLE': { status: 409, exitCode: 65, title: 'Code no longer usable' },
  /** There is no contact point of that kind on file to send a code to. */
  'OTP.NO_CONTACT_ON_FILE': { status: 422, exitCode: 65, title: 'No contact point on file' },
  /** No change request has this id. */
  'CHANGE_REQUEST.NOT_FOUND': { status: 404, exitCode: 66, title: 'Change request not found' },
  /** The command is not allowed in the change request's current state. */
  'CHANGE_REQUEST.ILLEGAL_TRANSITION': {
    status: 409,
    exitCode: 65,
    title: 'Not possible in the current state',
  },
  /** The change request was modified by someone else; reload it and retry with its current version. */
  'CHANGE_REQUEST.STALE': { status: 409, exitCode: 75, title: 'The change request changed meanwhile' },
  /** The identity verification the field's risk tier needs has not been completed. */
  'CHANGE_REQUEST.NOT_VERIFIED': { status: 409, exitCode: 65, title: 'Identity verification incomplete' },
  /** The read-back of the normalised values has not been confirmed by the requester. */
  'CHANGE_REQUEST.NOT_CONFIRMED': { status: 409, exitCode: 65, title: 'Read-back not confirmed' },
  /** The change needs a supervisor approval it does not have. */
  'CHANGE_REQUEST.NOT_APPROVED': { status: 409, exitCode: 65, title: 'Supervisor approval missing' },
  /** The verification method is not one the policy knows, or it lacks the evidence it must carry. */
  'VERIFICATION.EVIDENCE_MISSING': { status: 422, exitCode: 65, title: 'Verification evidence missing' },
  /** The verification method may not be recorded by this caller (e.g. a one-time code is checked by the system only). */
  'VERIFICATION.METHOD_NOT_ATTESTABLE': { status: 422, exitCode: 65, title: 'Method cannot be attested' },
  /** A one-time code was sent to the value being requested; it proves nothing for a sensitive change. */
  'VERIFICATION.CONTACT_POINT_NOT_ON_FILE': { status: 422, exitCode: 65, title: 'Contact point not on file' },
  /** The approver is the requester or processed the request; maker-checker needs a second person. */
  'APPROVAL.SELF_APPROVAL': { status: 403, exitCode: 77, title: 'You cannot approve this request' },
  /** Only a team lead or manager may approve or reject. */
  'APPROVAL.ROLE_NOT_ALLOWED': { status: 403, exitCode: 77, title: 'Role may not approve' },
  /** The change request has no approval step. */
  'APPROVAL.NOT_REQUIRED': { status: 409, exitCode: 65, title: 'No approval needed' },
  /** The field cannot be requested through self-service; the customer must contact customer service. */
  'POLICY.SELF_SERVICE_NOT_ALLOWED': {
    status: 403,
    exitCode: 77,
    title: 'Not available through self-service',
  },
  /** The policy file is invalid; `errors` names each path and the fix. */
  'POLICY.INVALID': { status: 500, exitCode: 78, title: 'The policy file is invalid' },
  /** A configuration value is missing or invalid. */
  'CONFIG.INVALID': { status: 500, exitCode: 78, title: 'The configuration is invalid' },
  /** The field name is not one Amend manages. */
  'FIELD.UNKNOWN': { status: 422, exitCode: 65, title: 'Unknown field' },
  /** The new value is not valid for its field; `errors` says why and how to fix it. */
  'FIELD.INVALID': { status: 422, exitCode: 65, title: 'Invalid value' },
  /** The new value equals the value on file; there is nothing to change. */
  'FIELD.UNCHANGED': { status: 422, exitCode: 65, title: 'Value already on file' },
  /** The same field appears twice in one change request. */
  'FIELD.DUPLICATE': { status: 422, exitCode: 65, title: 'Field listed twice' },
  /** No open manual task has this id (it may have been attested already). */
  'MANUAL_TASK.NOT_OPEN': { status: 404, exitCode: 66, title: 'Manual task not open' },
  /** No dead letter has this id (it may have been retried or replayed already). */
  'DEAD_LETTER.NOT_FOUND': { status: 404, exitCode: 66, title: 'Dead letter not found' },
  /** The "this wasn't me" link is unknown or its signature does not check (altered). */
  'NOT_ME.LINK_INVALID': { status: 404, exitCode: 66, title: 'Link not valid' },
  /** The "this wasn't me" link was already used; the report it made stands. */
  'NOT_ME.LINK_USED': { status: 409, exitCode: 65, title: 'Link already used' },
  /** The "this wasn't me" link has expired; the customer should call support. */
  'NOT_ME.LINK_EXPIRED': { status: 410, exitCode: 65, title: 'Link expired' },
  /** No open anomaly flag has this id (it may have been reviewed already). */
  'ANOMALY.NOT_OPEN': { status: 404, exitCode: 66, title: 'Anomaly flag not open' },
  /** The uploaded file is not a PDF, JPEG or PNG by its content. */
  'DOCUMENT.TYPE_NOT_ACCEPTED': { status: 415, exitCode: 65, title: 'Document type not accepted' },
  /** No identity document has this id. */
  'DOCUMENT.NOT_FOUND': { status: 404, exitCode: 66, title: 'Document not found' },
  /** The document already has a review decision. */
  'DOCUMENT.ALREADY_REVIEWED': { status: 409, exitCode: 65, title: 'Document already reviewed' },
  /** No security case has this id. */
  'CASE.NOT_FOUND': { status: 404, exitCode: 66, title: 'Case not found' },
  /** The security case is resolved already, or its change was reverted already. */
  'CASE.NOT_OPEN': { status: 409, exitCode: 65, title: 'Case not open' },
  /** The Idempotency-Key was already used with a different request body. */
  'IDEMPOTENCY.KEY_REUSED': { status: 422, exitCode: 65, title: 'Idempotency key reused with another body' },
  /** The file to import cannot be read or has no header row with the expected columns. */
  'IMPORT.FILE_INVALID': { status: 422, exitCode: 66, title: 'Import file invalid' },
  /** The audit log failed verification; `firstBroken` names the first entry that does not check. */
  'AUDIT.CHAIN_BROKEN': { status: 500, exitCode: 1, title: 'Audit log tampered or damaged' },
  /** The database is unreachable; the request was not processed. */
  'SERVICE.UNAVAILABLE': { status: 503, exitCode: 69, title: 'Service unavailable' },
  /** The embedded database's folder is held by another process (it admits one); stop that one, or use PostgreSQL. */
  'DATABASE.IN_USE': { status: 503, exitCode: 75, title: 'The embedded database is in use' },
  /** An unexpected failure; nothing was changed. The log has the detail under the problem's `instance`. */
  INTERNAL: { status: 500, exitCode: 70, title: 'Internal error' },
} as const satisfies Record<string, { status: number; exitCode: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
