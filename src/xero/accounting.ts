/**
 * Users and Organisation through xero-node's `AccountingApi` (docs/xero.md, "xero-node 20.0.0"), with `basePath` from
 * configuration, answered as this reader's own plain types (`AccountingUser`, `AccountingOrganisation`); `directory/`
 * maps them into its model. The SDK's enums are declared without initialisers, so roles and editions are compared
 * through the generated enum members, never as strings.
 *
 * The SDK is loaded on first use (`xeroNode`): requiring it takes about half a second of CPU, which a restart that
 * serves from STATE_DIR while Xero is down would otherwise spend before its first answer.
 */
import type * as XeroNode from 'xero-node';
import type { AccountingApi, Organisation as XeroOrganisation, User } from 'xero-node';
import type { Answer } from './budget';
import { badResponse, normaliseHeaders } from './errors';
import type { Connection } from './identity';

/** Every value Xero may send in a user's `OrganisationRole` (docs/xero.md, "OrganisationRole"). */
export type XeroRole =
  | 'READONLY'
  | 'INVOICEONLY'
  | 'STANDARD'
  | 'FINANCIALADVISER'
  | 'MANAGEDCLIENT'
  | 'CASHBOOKCLIENT'
  | 'UNKNOWN'
  | 'REMOVED';

/** One entry of an organisation's Users list. */
export interface AccountingUser {
  /** Lower-case tenant id of the organisation it was read from. */
  readonly organisationId: string;
  /** Lower-case UserID. */
  readonly xeroUserId: string;
  /** As Xero has it (case preserved); empty when absent. */
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly role: XeroRole;
  readonly isSubscriber: boolean;
  /** ISO 8601 instant of `UpdatedDateUTC`, the epoch when absent. */
  readonly updatedAt: string;
}

/** An organisation's details, from its Organisation element and the connection that reaches it. */
export interface AccountingOrganisation {
  /** Lower-case tenant id (equal to OrganisationID). */
  readonly id: string;
  readonly name: string;
  readonly legalName?: string;
  readonly shortCode?: string;
  readonly organisationType?: string;
  readonly countryCode?: string;
  readonly baseCurrency?: string;
  readonly version?: string;
  readonly edition: 'BUSINESS' | 'PARTNER';
  readonly class?: string;
  readonly status?: string;
  readonly isDemoCompany?: boolean;
  readonly timezone?: string;
  /** ISO 8601 instant: `CreatedDateUTC`, else the connection's `createdDateUtc`, else the epoch. */
  readonly createdAt: string;
  readonly connectionId: string;
  readonly tenantType: 'ORGANISATION' | 'PRACTICE';
}

let sdk: typeof XeroNode | undefined;

/** xero-node, required the first time it is needed. */
function xeroNode(): typeof XeroNode {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use, not at start (see above)
  return (sdk ??= require('xero-node') as typeof XeroNode);
}

let roles: ReadonlyMap<User.OrganisationRoleEnum, XeroRole> | undefined;

function roleMap(): ReadonlyMap<User.OrganisationRoleEnum, XeroRole> {
  const { OrganisationRoleEnum } = xeroNode().User;
  return (roles ??= new Map<User.OrganisationRoleEnum, XeroRole>([
    [OrganisationRoleEnum.READONLY, 'READONLY'],
    [OrganisationRoleEnum.INVOICEONLY, 'INVOICEONLY'],
    [OrganisationRoleEnum.STANDARD, 'STANDARD'],
    [OrganisationRoleEnum.FINANCIALADVISER, 'FINANCIALADVISER'],
    [OrganisationRoleEnum.MANAGEDCLIENT, 'MANAGEDCLIENT'],
    [OrganisationRoleEnum.CASHBOOKCLIENT, 'CASHBOOKCLIENT'],
    [OrganisationRoleEnum.UNKNOWN, 'UNKNOWN'],
    [OrganisationRoleEnum.REMOVED, 'REMOVED'],
  ]));
}

/** Xero has no creation date for users; a record without UpdatedDateUTC sorts first rather than inventing "now". */
const EPOCH = new Date(0).toISOString();

function isoDate(value: Date | undefined): string | undefined {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : undefined;
}

/**
 * A role Xero adds later maps to UNKNOWN: still a membership (access is never silently dropped), without a role.
 * A missing role means Xero did not say; that too is UNKNOWN, not REMOVED.
 */
export function mapRole(role: User.OrganisationRoleEnum | undefined): XeroRole {
  return (role === undefined ? undefined : roleMap().get(role)) ?? 'UNKNOWN';
}

export function mapUser(user: User, organisationId: string): AccountingUser {
  if (!user.userID) throw badResponse('GET Users', 'a user without UserID');
  return {
    organisationId,
    xeroUserId: user.userID.toLowerCase(),
    email: user.emailAddress ?? '',
    firstName: user.firstName ?? '',
    lastName: user.lastName ?? '',
    role: mapRole(user.organisationRole),
    isSubscriber: user.isSubscriber === true,
    updatedAt: isoDate(user.updatedDateUTC) ?? EPOCH,
  };
}

/** `/connections` dates are ISO with seven fractional digits and no zone letter: UTC (docs/xero.md, "Dates"). */
export function connectionDate(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(withZone.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function text(value: unknown): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

export function mapOrganisation(organisation: XeroOrganisation, connection: Connection): AccountingOrganisation {
  const details = {
    legalName: text(organisation.legalName),
    shortCode: text(organisation.shortCode),
    organisationType: text(organisation.organisationType),
    countryCode: text(organisation.countryCode),
    baseCurrency: text(organisation.baseCurrency),
    version: text(organisation.version),
    class: text(organisation._class),
    status: text(organisation.organisationStatus),
    isDemoCompany: organisation.isDemoCompany,
    timezone: text(organisation.timezone),
  };
  return {
    // OrganisationID equals the connection's tenantId; the connection is what we hold, so it names the tenant.
    id: connection.tenantId.toLowerCase(),
    name: text(organisation.name) ?? connection.tenantName,
    ...(Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined)) as Partial<typeof details>),
    edition: organisation.edition === xeroNode().Organisation.EditionEnum.PARTNER ? 'PARTNER' : 'BUSINESS',
    createdAt: isoDate(organisation.createdDateUTC) ?? connectionDate(connection.createdDateUtc) ?? EPOCH,
    connectionId: connection.id,
    tenantType: connection.tenantType === 'PRACTICE' ? 'PRACTICE' : 'ORGANISATION',
  };
}

/** The two accounting reads the directory needs, each answering the value and the limit headers. */
export interface AccountingReader {
  /** `signal` aborts the HTTP request itself when the call times out (see `XeroAccounting.api`). */
  getUsers(tenantId: string, accessToken: string, signal?: AbortSignal): Promise<Answer<AccountingUser[]>>;
  getOrganisation(connection: Connection, accessToken: string, signal?: AbortSignal): Promise<Answer<AccountingOrganisation>>;
}

export class XeroAccounting implements AccountingReader {
  /** `${XERO_API_URL}/api.xro/2.0` */
  readonly basePath: string;

  constructor(apiUrl: string) {
    this.basePath = `${apiUrl}/api.xro/2.0`;
  }

  /**
   * A fresh SDK instance per call: its access token is instance state, and calls overlap. xero-node takes no abort
   * signal, but its default-authentication hook sees the axios request config, so the signal goes in there. Without
   * it a timed-out call stays open, and Xero counts it against the organisation's 5 concurrent calls: after five,
   * every call is refused until they end.
   */
  private api(accessToken: string, signal: AbortSignal | undefined): AccountingApi {
    const api = new (xeroNode().AccountingApi)();
    api.basePath = this.basePath;
    api.accessToken = accessToken;
    if (signal) {
      api.setDefaultAuthentication({
        applyToRequest: (request) => {
          request.signal = signal;
        },
      });
    }
    return api;
  }

  async getUsers(tenantId: string, accessToken: string, signal?: AbortSignal): Promise<Answer<AccountingUser[]>> {
    const { response, body } = await this.api(accessToken, signal).getUsers(tenantId);
    if (!Array.isArray(body?.users)) throw badResponse('GET Users', 'no Users array');
    const organisationId = tenantId.toLowerCase();
    return { value: body.users.map((u) => mapUser(u, organisationId)), headers: normaliseHeaders(response.headers) };
  }

  async getOrganisation(connection: Connection, accessToken: string, signal?: AbortSignal): Promise<Answer<AccountingOrganisation>> {
    const { response, body } = await this.api(accessToken, signal).getOrganisations(connection.tenantId);
    const organisation = body?.organisations?.[0];
    if (!organisation) throw badResponse('GET Organisation', 'no Organisations element');
    return { value: mapOrganisation(organisation, connection), headers: normaliseHeaders(response.headers) };
  }
}
