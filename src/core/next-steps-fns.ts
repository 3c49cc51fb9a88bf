import { passedMethods } from './change-request-fns.ts';
import type { ChangeRequest } from './change-request-types.ts';
import { describeNextSteps } from './policy-fns.ts';
import type { Policy } from './policy-types.ts';

/**
 * What happens next for a request in its current state, in words a requester or representative can act on.
 * @example nextStepsFor(request, policy) // ['Confirm the new details: …']
 */
export function nextStepsFor(request: ChangeRequest, policy: Policy): string[] {
  switch (request.state) {
    case 'received':
    case 'awaiting_verification': {
      const passed = passedMethods(request);
      const remaining = policy.tiers[request.tier].verification.map((alternative) =>
        alternative.filter((method) => !passed.has(method)),
      );
      return [
        `Verify identity for a ${request.tier}-risk change; still needed, any one of: ${remaining.map((methods) => methods.join(' + ')).join(' | ')}.`,
        ...describeNextSteps(policy, request.tier, request.isApprovalRequired).slice(1),
      ];
    }
    case 'awaiting_confirmation':
      return request.readBack?.revision === request.revision
        ? ['Ready to apply.']
        : [`Read the normalised values back to the requester and confirm revision ${request.revision}.`];
    case 'awaiting_approval':
      return ['A team lead who did not handle this request reviews the change and approves or rejects it.'];
    case 'returned_for_clarification':
      return [`Supply the missing items: ${request.missing.join('; ')}.`];
    case 'rejected':
      return ['Edit the request to address the rejection reason, or cancel it.'];
    case 'escalated':
      return ['A team lead resolves the escalation: resume the request or close it.'];
    case 'applied':
    case 'propagating':
      return [`Waiting for every connected system to acknowledge: ${request.connectedSystems.join(', ')}.`];
    case 'consistent':
      return ['Sending the confirmation to the customer.'];
    case 'declined': {
      const other = describeNextSteps(policy, request.tier, false)[0]!.replace(
        /^Verify identity \([a-z]+ risk\) with one of: /,
        '',
      );
      return [
        `Identity could not be verified. Other ways to verify, after the cool-down: ${other.replace(/\.$/, '')}; or in person with government-issued ID.`,
      ];
    }
    default:
      return [];
  }
}
