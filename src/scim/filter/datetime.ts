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

/**
 * Parses an xsd:dateTime (zone `Z`, `±hh:mm` or none, read as UTC); undefined for anything else or an impossible date.
 * Read character by character with integer arithmetic rather than a RegExp and a Date, because a filter on
 * `meta.lastModified` parses the timestamp of every resource it scans.
 */
export function parseInstant(text: string): Instant | undefined {
  if (text.length > 64) return undefined;
  let i = 0;
  const negative = text.charCodeAt(0) === MINUS;
  if (negative) i++;
  const yearStart = i;
  let year = 0;
  for (let code = text.charCodeAt(i); isDigit(code); code = text.charCodeAt(++i)) year = year * 10 + code - 0x30;
  // xsd:dateTime: at least four year digits; more than six would leave the range a Date can represent.
  if (i - yearStart < 4 || i - yearStart > 6) return undefined;
  if (negative) year = -year;
  if (text.charCodeAt(i) !== MINUS) return undefined;
  const month = twoDigits(text, i + 1);
  if (text.charCodeAt(i + 3) !== MINUS) return undefined;
  const day = twoDigits(text, i + 4);
  const t = text.charCodeAt(i + 6);
  if (t !== 0x54 && t !== 0x74) return undefined; // T or t (RFC 3339 §5.6)
  const hour = twoDigits(text, i + 7);
  if (text.charCodeAt(i + 9) !== COLON) return undefined;
  const minute = twoDigits(text, i + 10);
  if (text.charCodeAt(i + 12) !== COLON) return undefined;
  const second = twoDigits(text, i + 13);
  i += 15;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;

  // Fractional seconds as nanoseconds; digits past the ninth are read and dropped.
  let nanoseconds = 0;
  if (text.charCodeAt(i) === 0x2e) {
    const fractionStart = ++i;
    for (let code = text.charCodeAt(i), scale = 100_000_000; isDigit(code); code = text.charCodeAt(++i), scale /= 10) {
      if (scale >= 1) nanoseconds += (code - 0x30) * scale;
    }
    if (i === fractionStart) return undefined;
  }

  let offsetMinutes: number;
  const zone = text.charCodeAt(i);
  if (i === text.length || ((zone === 0x5a || zone === 0x7a) && i + 1 === text.length)) {
    offsetMinutes = 0; // Z, z, or no zone: xsd:dateTime allows none, and UTC is the only sensible reading here
  } else if ((zone === PLUS || zone === MINUS) && i + 6 === text.length && text.charCodeAt(i + 3) === COLON) {
    const offsetHours = twoDigits(text, i + 1);
    const offsetMins = twoDigits(text, i + 4);
    if (offsetHours < 0 || offsetHours > 14 || offsetMins < 0 || offsetMins > 59) return undefined;
    offsetMinutes = (zone === MINUS ? -1 : 1) * (offsetHours * 60 + offsetMins);
  } else {
    return undefined;
  }

  const seconds = ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute - offsetMinutes) * 60 + second;
  const withinMs = nanoseconds % 1_000_000;
  return { ms: seconds * 1000 + (nanoseconds - withinMs) / 1_000_000, ns: withinMs };
}

const MINUS = 0x2d;
const PLUS = 0x2b;
const COLON = 0x3a;
const isDigit = (code: number) => code >= 0x30 && code <= 0x39;

/** Two ASCII digits at `at` as a number, or -1. */
function twoDigits(text: string, at: number): number {
  const tens = text.charCodeAt(at);
  const units = text.charCodeAt(at + 1);
  return isDigit(tens) && isDigit(units) ? (tens - 0x30) * 10 + (units - 0x30) : -1;
}

/** Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant, "chrono-compatible date algorithms"). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

export function compareInstants(a: Instant, b: Instant): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.ns - b.ns;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
