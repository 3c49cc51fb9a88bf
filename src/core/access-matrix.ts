import type { Role } from './change-request-types.ts';

/**
 * Who may do what: the written role × action matrix (docs/roles.md is generated from it). Every API route
 * names one action and the server refuses any role not listed here before the route runs. Roles that act on
 * "own" data (a customer) are further limited by the route to their own record: another customer's id answers
 * 404, never 403, so ids cannot be probed.
 *
 * Deliberate gaps: an auditor only reads; an admin runs the system (staff, keys, dead letters) but neither
 * reads nor changes customers' personal data; a representative never approves; an integration submits and
 * reads but never decides.
 */
export const ACCESS_MATRIX = {
  'customer.list': ['representative', 'team_lead', 'manager', 'auditor', 'integration'],
  'customer.read': ['customer', 'representative', 'team_lead', 'manager', 'auditor', 'integration'],
  'customer.history': ['representative', 'team_lead', 'manager', 'auditor'],
  'customer.export': ['customer', 'team_lead', 'manager'],
  'customer.security_questions.read': ['representative', 'team_lead', 'manager'],
  'customer.security_questions.set': ['team_lead', 'manager'],
  'change_request.submit': ['customer', 'representative', 'team_lead', 'manager', 'integration'],
  'change_request.list': ['representative', 'team_lead', 'manager', 'auditor', 'integration'],
  'change_request.read': ['customer', 'representative', 'team_lead', 'manager', 'auditor', 'integration'],
  'change_request.preview': ['representative', 'team_lead', 'manager', 'auditor'],
  'change_request.verify': ['representative', 'team_lead', 'manager'],
  'change_request.recent_session': ['customer'],
  'change_request.confirm': ['customer', 'representative', 'team_lead', 'manager', 'integration'],
  'change_request.edit': ['representative', 'team_lead', 'manager', 'integration'],
  'change_request.cancel': ['customer', 'representative', 'team_lead', 'manager', 'integration'],
  'change_request.escalate': ['representative', 'team_lead', 'manager'],
  'change_request.note': ['representative', 'team_lead', 'manager'],
  'change_request.decide': ['team_lead', 'manager'],
  'change_request.quality_review': ['manager'],
  'document.read': ['representative', 'team_lead', 'manager'],
  'queue.approvals': ['team_lead', 'manager', 'auditor'],
  'queue.escalations': ['representative', 'team_lead', 'manager', 'auditor'],
  'validate.fields': ['customer', 'representative', 'team_lead', 'manager', 'integration'],
  'audit.read': ['team_lead', 'manager', 'auditor'],
  'audit.review': ['manager', 'auditor'],
  'audit.values.read': ['auditor'],
  'report.read': ['manager', 'auditor'],
  'anomaly.read': ['team_lead', 'manager', 'auditor'],
  'anomaly.review': ['team_lead', 'manager'],
  'case.read': ['team_lead', 'manager', 'auditor'],
  'case.act': ['team_lead', 'manager'],
  'mail.read': ['team_lead', 'manager', 'auditor', 'admin'],
  'manual_task.read': ['representative', 'team_lead', 'manager', 'auditor', 'admin'],
  'manual_task.attest': ['representative', 'team_lead', 'manager', 'admin'],
  'dead_letter.read': ['team_lead', 'manager', 'auditor', 'admin'],
  'dead_letter.act': ['team_lead', 'manager', 'admin'],
  'staff.manage': ['admin'],
  'api_key.manage': ['admin'],
  'staff_session.own': ['representative', 'team_lead', 'manager', 'auditor', 'admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Action = keyof typeof ACCESS_MATRIX;
export const ACTIONS = Object.keys(ACCESS_MATRIX) as Action[];

/** Is `role` allowed `action`, and, for a scoped API key, is the action within its scopes? */
export function isAllowed(role: Role, action: Action, scopes: readonly string[] | null = null): boolean {
  return (
    (ACCESS_MATRIX[action] as readonly Role[]).includes(role) && (scopes === null || scopes.includes(action))
  );
}

/** The roles a staff member can be given (customers and integrations are not staff). */
export const STAFF_ROLES = ['representative', 'team_lead', 'manager', 'auditor', 'admin'] as const;
