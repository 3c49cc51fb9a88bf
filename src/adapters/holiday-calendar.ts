import { createRequire } from 'node:module';
import type Holidays from 'date-holidays';
import type { BusinessCalendar } from '../core/business-day-fns.ts';

// The holiday data takes 0.2-0.3 s to load, which every command paid at start; only due dates need it, so it
// loads (synchronously, as the calendar is asked synchronously) on the first question.
const require = createRequire(import.meta.url);
let holidayData: typeof Holidays | undefined;

/** Only days off for everyone count: public holidays and bank holidays, not observances or school holidays. */
const DAYS_OFF = new Set(['public', 'bank']);

/**
 * A business calendar for a country (and optionally a state or region) from the `date-holidays` data.
 * @example holidayCalendar({ country: 'AU', region: 'VIC', timeZone: 'Australia/Melbourne' })
 */
export function holidayCalendar(spec: {
  country: string;
  region?: string | undefined;
  timeZone: string;
}): BusinessCalendar {
  let holidays: Holidays | undefined;
  const cache = new Map<string, boolean>();
  return {
    timeZone: spec.timeZone,
    isHoliday: (date) => {
      let isOff = cache.get(date);
      if (isOff === undefined) {
        holidayData ??= require('date-holidays') as typeof Holidays;
        holidays ??= spec.region ? new holidayData(spec.country, spec.region) : new holidayData(spec.country);
        // Noon avoids any doubt about which local date is meant.
        const found = holidays.isHoliday(new Date(`${date}T12:00:00`));
        isOff =
          Array.isArray(found) &&
          found.some((holiday) => DAYS_OFF.has(holiday.type) && holiday.date.startsWith(date));
        cache.set(date, isOff);
      }
      return isOff;
    },
  };
}
