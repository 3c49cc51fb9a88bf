/** A working calendar: the time zone whose dates count, and which of those dates are public holidays. */
export interface BusinessCalendar {
  readonly timeZone: string;
  /** `date` is a local calendar date, YYYY-MM-DD. Passed in: holiday data is the adapter's business. */
  isHoliday(date: string): boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The offset of `timeZone` from UTC at `instantMs`, in ms (positive east of Greenwich). */
function offsetMs(instantMs: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(new Date(instantMs))
      .map((part) => [part.type, part.value]),
  );
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return asUtc - (instantMs - (instantMs % 1000));
}

/** The local calendar date of an instant. */
export function localDateOf(instantIso: string, timeZone: string): string {
  const ms = Date.parse(instantIso);
  return new Date(ms + offsetMs(ms, timeZone)).toISOString().slice(0, 10);
}

/** The instant local midnight begins `date` (handles daylight-saving changes). */
export function startOfLocalDate(date: string, timeZone: string): string {
  const naive = Date.parse(`${date}T00:00:00.000Z`);
  let instant = naive - offsetMs(naive, timeZone);
  instant = naive - offsetMs(instant, timeZone);
  return new Date(instant).toISOString();
}

const nextDate = (date: string): string =>
  new Date(Date.parse(`${date}T00:00:00.000Z`) + DAY_MS).toISOString().slice(0, 10);

export function isBusinessDay(date: string, calendar: BusinessCalendar): boolean {
  const weekday = new Date(`${date}T00:00:00.000Z`).getUTCDay();
  return weekday !== 0 && weekday !== 6 && !calendar.isHoliday(date);
}

/**
 * When something received at `startIso` is due if it must be done within `businessDays` business days: the
 * end of the `businessDays`-th business day after the local date it arrived (weekends and the calendar's
 * public holidays skipped). Answers the instant the following local day begins.
 * @example businessDeadline('2026-12-24T03:00:00Z', 1, melbourne) // end of Tue 29 Dec (25, 26–27, 28 are off)
 */
export function businessDeadline(startIso: string, businessDays: number, calendar: BusinessCalendar): string {
  let date = localDateOf(startIso, calendar.timeZone);
  let counted = 0;
  while (counted < businessDays) {
    date = nextDate(date);
    if (isBusinessDay(date, calendar)) counted += 1;
  }
  return startOfLocalDate(nextDate(date), calendar.timeZone);
}
