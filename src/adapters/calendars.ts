import type { BusinessCalendar } from '../core/business-day-fns.ts';
import type { Policy } from '../core/policy-types.ts';
import { holidayCalendar } from './holiday-calendar.ts';

/** Every working calendar the policy declares, built once per process. */
export function calendarsFor(policy: Policy): Map<string, BusinessCalendar> {
  return new Map(
    Object.entries(policy.approvalSla.calendars).map(([key, spec]) => [key, holidayCalendar(spec)]),
  );
}
