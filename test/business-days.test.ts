import { describe, expect, it } from 'vitest';
import { holidayCalendar } from '../src/adapters/holiday-calendar.ts';
import { businessDeadline, localDateOf } from '../src/core/business-day-fns.ts';

const melbourne = holidayCalendar({ country: 'AU', region: 'VIC', timeZone: 'Australia/Melbourne' });
const london = holidayCalendar({ country: 'GB', timeZone: 'Europe/London' });
const newYork = holidayCalendar({ country: 'US', timeZone: 'America/New_York' });

/** The local date whose end a deadline marks. */
const dueDate = (deadline: string, timeZone: string) =>
  localDateOf(new Date(Date.parse(deadline) - 1).toISOString(), timeZone);

describe('business-day deadlines (real holiday data)', () => {
  it.each([
    ['AU-VIC', melbourne, '2026-11-19T23:00:00Z', 1, '2026-11-23', 'Friday local → Monday'],
    ['AU-VIC', melbourne, '2026-11-02T01:00:00Z', 1, '2026-11-04', 'Monday before Melbourne Cup → Wednesday'],
    [
      'AU-VIC',
      melbourne,
      '2026-12-23T23:00:00Z',
      1,
      '2026-12-29',
      'Christmas Eve → past Christmas, the weekend and the substitute Boxing Day',
    ],
    ['AU-VIC', melbourne, '2026-12-23T23:00:00Z', 2, '2026-12-30', 'two business days'],
    [
      'GB',
      london,
      '2026-12-24T10:00:00Z',
      1,
      '2026-12-29',
      'Christmas Eve → past Christmas, Boxing Day and its substitute',
    ],
    [
      'GB',
      london,
      '2026-03-27T16:00:00Z',
      1,
      '2026-03-30',
      'Friday → Monday across the clocks going forward',
    ],
    ['US', newYork, '2026-11-25T15:00:00Z', 1, '2026-11-27', 'day before Thanksgiving → Friday'],
    [
      'US',
      newYork,
      '2026-11-26T03:00:00Z',
      1,
      '2026-11-27',
      'late Wednesday local is still Wednesday in New York',
    ],
    ['US', newYork, '2026-11-10T15:00:00Z', 1, '2026-11-12', 'Veterans Day skipped'],
  ])('%s: %s + %i business day(s) → end of %s (%s)', (_, calendar, start, days, expected) => {
    const deadline = businessDeadline(start, days, calendar);
    expect(dueDate(deadline, calendar.timeZone)).toBe(expected);
    expect(localDateOf(deadline, calendar.timeZone)).not.toBe(expected);
  });

  it('ends the due day at local midnight', () => {
    expect(businessDeadline('2026-11-19T23:00:00Z', 1, melbourne)).toBe('2026-11-23T13:00:00.000Z');
    expect(businessDeadline('2026-07-01T12:00:00Z', 1, london)).toBe('2026-07-02T23:00:00.000Z');
  });
});
