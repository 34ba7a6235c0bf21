/**
 * RFC 7643 §2.3.5: dateTime values are xsd:dateTime (`2024-05-01T10:00:00Z`, `…T10:00:00.1234567+02:00`).
 * Filters compare them as instants (RFC 7644 §3.4.2.2), with any number of fractional digits: Entra sends seven,
 * so milliseconds alone would call two different instants equal.
 */

/** An instant as milliseconds since the epoch plus the nanoseconds within that millisecond. */
export interface Instant {
  readonly ms: number;
  readonly ns: number;
}

const DATE_TIME = /^(-?\d{4,})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an xsd:dateTime with a zone (`Z` or `±hh:mm`); undefined for anything else or an impossible date. */
export function parseInstant(text: string): Instant | undefined {
  if (text.length > 64) return undefined;
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;

  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetMins = Number(zone.slice(4, 6));
    if (offsetHours > 14 || offsetMins > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }

  const digits = fraction.padEnd(9, '0');
  // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not, and Entra's floor is year 1.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(digits.slice(0, 3)));
  const ms = date.getTime() - offsetMinutes * 60_000;
  if (!Number.isFinite(ms)) return undefined;
  return { ms, ns: Number(digits.slice(3, 9)) };
}

export function compareInstants(a: Instant, b: Instant): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.ns - b.ns;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
