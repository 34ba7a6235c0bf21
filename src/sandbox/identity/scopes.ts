/** Scopes Xero knows (developer.xero.com "OAuth 2.0 scopes"). Identity scopes first. */
export const IDENTITY_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

const API_SCOPES = [
  'accounting.settings',
  'accounting.settings.read',
  'accounting.contacts',
  'accounting.contacts.read',
  'accounting.attachments',
  'accounting.attachments.read',
  'accounting.reports.read',
  'accounting.journals.read',
  'accounting.budgets.read',
  'accounting.invoices',
  'accounting.invoices.read',
  'accounting.payments',
  'accounting.payments.read',
  'accounting.banktransactions',
  'accounting.banktransactions.read',
  'accounting.manualjournals',
  'accounting.manualjournals.read',
  'payroll.employees',
  'payroll.employees.read',
  'payroll.settings',
  'payroll.settings.read',
  'files',
  'files.read',
  'assets',
  'assets.read',
  'projects',
  'projects.read',
];

/**
 * Not in the list on purpose: `accounting.transactions` (and `.read`) may not be requested by apps created on or
 * after 2 March 2026, which replaced it with granular scopes (docs/xero.md, "Scopes"); asking for it is
 * `invalid_scope`.
 */
export const KNOWN_SCOPES: ReadonlySet<string> = new Set([...IDENTITY_SCOPES, ...API_SCOPES]);

/** Scopes a custom connection receives when it asks for none: every API scope. */
export const CUSTOM_CONNECTION_SCOPES: readonly string[] = API_SCOPES;

/** Reading `/Users` and `/Organisation` needs one of these (docs/xero.md, "Scopes"). */
export const SETTINGS_READ_SCOPES: readonly string[] = ['accounting.settings', 'accounting.settings.read'];

/** `scope` per RFC 6749 §3.3 is space-delimited; Xero also accepts `scopes`. Duplicates collapse, order is kept. */
export function parseScopes(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return [...new Set(value.split(/\s+/).filter(Boolean))];
}
