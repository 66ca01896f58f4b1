import { dateYearMax, dateYearMin } from './limits';
import { assert } from './result';

/**
 * Every posting belongs to exactly one business date. The business day ends at the cut-off
 * time in the business time zone: with BUSINESS_DAY_CUTOFF=22:00, a payment at 22:00:00 or
 * later belongs to the next date; with the default 00:00 the business date is simply the
 * calendar date in BUSINESS_TIMEZONE (default UTC). The clock is always passed in, so tests
 * can stand at 23:59:59.9.
 */
export interface BusinessCalendar {
  timeZone: string;
  /** Minutes after local midnight at which the business day ends (0 = midnight). */
  cutoffMinutes: number;
}

const minuteMs = 60_000;
const dayMinutes = 24 * 60;

export function parseCutoff(text: string): number {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!match) throw new Error(`BUSINESS_DAY_CUTOFF must be HH:MM (00:00-23:59), got "${text}"`);
  return Number(match[1]) * 60 + Number(match[2]);
}

let configured: BusinessCalendar | undefined;

/**
 * The calendar of this process: set once by main.ts from the configuration (config.ts:
 * BUSINESS_TIMEZONE, BUSINESS_DAY_CUTOFF) before anything posts, and never read from the
 * environment here.
 */
export function defaultCalendar(): BusinessCalendar {
  if (!configured)
    throw new Error(
      'the business calendar is not set: main.ts sets it from BUSINESS_TIMEZONE and BUSINESS_DAY_CUTOFF at start-up (configureLedger in server/main.ts)',
    );
  return configured;
}

/** main.ts, at start-up; tests that stand in another calendar. */
export function setBusinessCalendar(calendar: BusinessCalendar): void {
  configured = calendar;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/**
 * The last answer per time zone, by minute: every posting asks, and formatting cost more than
 * the rest of the date logic. Offsets and DST changes fall on whole minutes, so every instant
 * of one minute has the same local date. Both maps are keyed by the configured time zones
 * (one per calendar, a handful at most), so there is nothing to bound or evict: not a cache
 * for lru-cache.
 */
const lastByZone = new Map<string, { minute: number; date: string }>();

function localDate(instant: Date, timeZone: string): string {
  const minute = Math.floor(instant.getTime() / minuteMs);
  const last = lastByZone.get(timeZone);
  if (last?.minute === minute) return last.date;
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, formatter);
  }
  const date = formatter.format(instant);
  lastByZone.set(timeZone, { minute, date });
  return date;
}

/** The business date ("YYYY-MM-DD") an instant belongs to. */
export function businessDateOf(instant: Date, calendar: BusinessCalendar = defaultCalendar()): string {
  const shiftMinutes = (dayMinutes - calendar.cutoffMinutes) % dayMinutes;
  return localDate(new Date(instant.getTime() + shiftMinutes * minuteMs), calendar.timeZone);
}

/**
 * The calendar date `days` after a "YYYY-MM-DD" date. Asserts the answer is a day of the years dateYearMin-dateYearMax
 * (a DATE column's): past them it is no "YYYY-MM-DD" ('9999-12-31' plus a day is '+010000-01-01', which sorts before
 * it), so a caller that gets there has let a window or a walk leave the dates it may hold; that is a bug.
 */
export function addDays(date: string, days: number): string {
  const next = new Date(Date.parse(`${date}T00:00:00Z`) + days * dayMinutes * minuteMs);
  const year = next.getUTCFullYear();
  assert(
    year >= dateYearMin && year <= dateYearMax,
    `addDays(${date}, ${days}) leaves the years ${dateYearMin}-${dateYearMax}`,
  );
  return next.toISOString().slice(0, 10);
}
