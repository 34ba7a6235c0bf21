/** The sandbox's own data model: organisations and their users, in the terms Xero uses. */

/** Every value Xero sends in `OrganisationRole` (docs/xero.md, "OrganisationRole"). Note FINANCIAL**ADVISER**. */
export const ORGANISATION_ROLES = [
  'READONLY',
  'INVOICEONLY',
  'STANDARD',
  'FINANCIALADVISER',
  'MANAGEDCLIENT',
  'CASHBOOKCLIENT',
  'UNKNOWN',
  'REMOVED',
] as const;
export type OrganisationRole = (typeof ORGANISATION_ROLES)[number];

export function isOrganisationRole(value: unknown): value is OrganisationRole {
  return typeof value === 'string' && (ORGANISATION_ROLES as readonly string[]).includes(value);
}

/** One membership: Xero's `UserID` is per organisation, so one person in two organisations has two users. */
export interface SandboxUser {
  userId: string;
  email: string;
  firstName: string;
  lastName: string;
  role: OrganisationRole;
  isSubscriber: boolean;
  /** `UpdatedDateUTC`, epoch ms. */
  updatedAt: number;
}

export interface SandboxOrganisation {
  /** `OrganisationID`, also the connection's `tenantId`. */
  organisationId: string;
  name: string;
  legalName: string;
  shortCode: string;
  organisationType: string;
  countryCode: string;
  baseCurrency: string;
  version: string;
  edition: 'BUSINESS' | 'PARTNER';
  class: string;
  status: string;
  isDemoCompany: boolean;
  /** Xero's time-zone code, e.g. `NEWZEALANDSTANDARDTIME`. */
  timezone: string;
  /** `CreatedDateUTC`, epoch ms. */
  createdAt: number;
  tenantType: 'ORGANISATION' | 'PRACTICE';
  users: SandboxUser[];
}

export interface SandboxData {
  organisations: SandboxOrganisation[];
}

export function cloneData(data: SandboxData): SandboxData {
  return {
    organisations: data.organisations.map((org) => ({ ...org, users: org.users.map((user) => ({ ...user })) })),
  };
}
