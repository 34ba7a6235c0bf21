/** Xero's wire formats for dates and XML (docs/xero.md, "Wire format"). */

/** Accounting record dates: MS-JSON with an explicit zero offset, e.g. `/Date(1508523261613+0000)/`. */
export function msJsonDate(ms: number): string {
  return `/Date(${ms}+0000)/`;
}

/** The envelope's `DateTimeUTC` carries no offset: `/Date(1553880796393)/`. */
export function msJsonInstant(ms: number): string {
  return `/Date(${ms})/`;
}

/** `/connections` dates: ISO 8601 with seven fractional digits and no zone letter, e.g. `2019-12-07T18:46:19.5165400`. */
export function connectionDate(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}0000`;
}

/** XML dates in accounting responses: ISO 8601 without a zone letter. */
export function xmlDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23);
}

/** `TokenExpired: token expired at 04/29/2021 00:49:58` (month/day/year, UTC), as Xero words it. */
export function expiryStamp(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

export type XmlValue = string | number | boolean | XmlElement[];
export interface XmlElement {
  readonly name: string;
  readonly value: XmlValue;
}

export function renderXml(root: XmlElement): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n${renderElement(root)}`;
}

function renderElement({ name, value }: XmlElement): string {
  if (Array.isArray(value)) return `<${name}>${value.map(renderElement).join('')}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}
