/**
 * The directory's data model: what the Xero side produces and the SCIM side serves.
 *
 * A `DirectorySnapshot` is immutable once built (see `buildSnapshot`) and is swapped atomically, so every
 * SCIM response is computed from exactly one snapshot.
 */
import type { People } from './people';
import type { ReplicationStatus } from './replication';

/** Roles a Xero user can hold in an organisation (docs/xero.md, "OrganisationRole"). Note FINANCIAL**ADVISER**. */
export const ROLE_CODES = [
  'READONLY',
  'INVOICEONLY',
  'STANDARD',
  'FINANCIALADVISER',
  'MANAGEDCLIENT',
  'CASHBOOKCLIENT',
] as const;
export type RoleCode = (typeof ROLE_CODES)[number];

/** Every value Xero may send in `OrganisationRole`; `UNKNOWN` and `REMOVED` are not grantable roles. */
export const ORGANISATION_ROLES = [...ROLE_CODES, 'UNKNOWN', 'REMOVED'] as const;
export type OrganisationRole = (typeof ORGANISATION_ROLES)[number];

/** Roles that exist only in Partner-edition organisations. */
export const PARTNER_ONLY_ROLES: readonly RoleCode[] = ['MANAGEDCLIENT', 'CASHBOOKCLIENT'];

/** Readable names for role codes, used in SCIM `display` values. */
export const ROLE_NAMES: Readonly<Record<RoleCode, string>> = {
  READONLY: 'Read only',
  INVOICEONLY: 'Invoice only',
  STANDARD: 'Standard',
  FINANCIALADVISER: 'Financial adviser',
  MANAGEDCLIENT: 'Managed client',
  CASHBOOKCLIENT: 'Cashbook client',
};

export function isRoleCode(value: string): value is RoleCode {
  return (ROLE_CODES as readonly string[]).includes(value);
}

/** A connected Xero organisation (a tenant), from `/connections` and `/Organisation`. */
export interface Organisation {
  /** OrganisationID, equal to the connection's tenantId. */
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
  /** ISO 8601 instant: Xero's `CreatedDateUTC`, else the connection's `createdDateUtc`. */
  readonly createdAt: string;
  /** The connection that grants access to it. */
  readonly connectionId: string;
  readonly tenantType: 'ORGANISATION' | 'PRACTICE';
}

/** One Xero user record: a person's access to one organisation. */
export interface XeroUserRecord {
  readonly organisationId: string;
  readonly xeroUserId: string;
  /** The e-mail exactly as Xero has it (case preserved). */
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly role: OrganisationRole;
  readonly isSubscriber: boolean;
  /** ISO 8601 instant, Xero's `UpdatedDateUTC`. */
  readonly updatedAt: string;
}

/** What one organisation contributed to a snapshot: its details and users as of its last good fetch. */
export interface TenantData {
  readonly organisation: Organisation;
  readonly users: readonly XeroUserRecord[];
  /** ISO 8601 instant of the fetch this data comes from. */
  readonly syncedAt: string;
}

/** A person who can log in to Xero, merged across organisations by case-insensitive e-mail. */
export interface Person {
  /** Stable SCIM id: a name-based UUID of the normalised e-mail. */
  readonly id: string;
  /** Normalised (trimmed, lower-cased) e-mail; the SCIM `userName`. */
  readonly userName: string;
  /** The e-mail as Xero shows it, from the most recently updated record. */
  readonly email: string;
  readonly givenName: string;
  readonly familyName: string;
  /** True while at least one record grants access (a role other than `REMOVED`). */
  readonly active: boolean;
  /** Every Xero record of this person, including `REMOVED` ones, ordered by organisation id. */
  readonly records: readonly XeroUserRecord[];
  /** Earliest `updatedAt` of the records (Xero has no creation date for users). */
  readonly createdAt: string;
  /** Latest `updatedAt` of the records. */
  readonly lastModified: string;
}

/** One role of one organisation, and who holds it. */
export interface Role {
  /** Stable id: a name-based UUID of `organisationId` and `code`. */
  readonly id: string;
  readonly organisationId: string;
  readonly code: RoleCode;
  /** e.g. "Acme Ltd — Standard". */
  readonly displayName: string;
  /** Person ids, sorted. */
  readonly memberIds: readonly string[];
}

export interface DirectorySnapshot {
  /** Content hash: equal snapshots have equal versions, across restarts and replicas. */
  readonly version: string;
  /** ISO 8601 instant when this snapshot was built. */
  readonly builtAt: string;
  /** The per-organisation data it was built from (what is persisted). */
  readonly tenants: readonly TenantData[];
  /** People in a stable order (by `id`), held as columns (`people.ts`). */
  readonly people: People;
  /** Organisations in a stable order: by `id`. */
  readonly organisations: readonly Organisation[];
  /** Roles in a stable order: by `id`. */
  readonly roles: readonly Role[];
  readonly organisationById: ReadonlyMap<string, Organisation>;
  /** Each organisation's data, by organisation id. */
  readonly tenantById: ReadonlyMap<string, TenantData>;
  readonly roleById: ReadonlyMap<string, Role>;
  /**
   * Each organisation's memberships (`REMOVED` records excluded) as indices into `people.records`, ordered by person
   * id, then Xero UserID.
   */
  readonly memberRecords: ReadonlyMap<string, Int32Array>;
  /**
   * Each organisation's records' people: entry i is the position in `people` of the person of the organisation's
   * record i (`tenantById.get(id).users[i]`), or -1 for a record without an e-mail.
   */
  readonly recordPeople: ReadonlyMap<string, Int32Array>;
  /** Roles of each organisation, in `ROLE_CODES` order. */
  readonly rolesByOrganisation: ReadonlyMap<string, readonly Role[]>;
  /** Each organisation's group summary, made with the snapshot: a first list of groups reads no member. */
  readonly groupSummaries: ReadonlyMap<string, GroupSummary>;
}

/**
 * What of a group comes from all its members, made once per snapshot: its `lastModified` (the latest update of any
 * membership, or the organisation's creation), and a digest of its members' names and e-mails, in id order, that
 * changes whenever a member joins, leaves or is renamed. A group's ETag is made from its resource without members and
 * this digest, so listing groups without members, what pollers do, reads no member at all. The members' ids are
 * left out: each is made from the member's normalised e-mail.
 */
export interface GroupSummary {
  readonly lastModified: string;
  readonly membersDigest: string;
}

/**
 * What a snapshot derives from its records by hashing and sorting, kept with a saved state so that a restart reads it
 * instead of working it out again (seconds at a million memberships): who each record's person is, every person's
 * id, and each group's summary. Valid only for the exact records it was taken from, and only under the derivation
 * rules of `derivation` (`PEOPLE_DERIVATION` in `snapshot.ts`): anything else is derived again.
 */
export interface DerivedPeople {
  readonly derivation: number;
  /**
   * Per record of the organisations in order (sorted by id, each one's users as held, back to back): the position
   * of its person in `ids`, or -1 for a record without an e-mail.
   */
  readonly positions: Int32Array;
  /** How many people there are. */
  readonly count: number;
  /** The id of the person at `position`: ids ascend (in code-unit order) with positions. */
  idAt(position: number): string;
  /** Per organisation in order: its group summary. */
  readonly groups: readonly GroupSummary[];
}

/**
 * Why an organisation serves its last good data although Xero answered (the removal guard, `guard.ts`):
 * - `disconnected`: it left `/connections`; removed once it has stayed out for XERO_DISCONNECT_CONFIRMATIONS answers.
 * - `suspect-disconnect`: it left `/connections` with most (or all) of the others at once: held until it comes back
 *   or an operator confirms (`xero-scim confirm-disconnect`).
 * - `suspect-empty`: its Users answer has no member where it had some: taken after XERO_DISCONNECT_CONFIRMATIONS
 *   such answers, or, when most organisations answered so at once, only once an operator confirms.
 */
export const SUSPICION_REASONS = ['disconnected', 'suspect-disconnect', 'suspect-empty'] as const;
export type SuspicionReason = (typeof SUSPICION_REASONS)[number];

export interface Suspicion {
  readonly reason: SuspicionReason;
  /** ISO 8601 instant of the first answer that asked for this removal. */
  readonly since: string;
  /** Consecutive answers from Xero that asked for it (a sync without an answer neither counts nor resets). */
  readonly answers: number;
  /** Only an operator's confirmation (or Xero taking the answer back) ends it: it came with a mass drop. */
  readonly awaitsOperator: boolean;
  /** An operator confirmed it: the next answer that still asks for the removal applies it. */
  readonly confirmed?: boolean;
}

/** Per-organisation sync health, as the status page, `/readyz` and metrics report it. */
export interface TenantHealth {
  readonly organisationId: string;
  readonly name?: string;
  /**
   * current: last fetch succeeded; stale: serving older data after a failure, or because Xero's answer is held
   * back as suspect (see `suspicion`); missing: never fetched successfully.
   */
  readonly state: 'current' | 'stale' | 'missing';
  /** Set while Xero's answer for it is held back by the removal guard. */
  readonly suspicion?: Suspicion & {
    /** Answers still needed before the removal applies on its own; absent when it awaits an operator. */
    readonly answersLeft?: number;
  };
  readonly lastSuccessAt?: string;
  readonly lastAttemptAt?: string;
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: string };
  readonly userCount?: number;
  /** Xero calls the last sync made for this organisation (retries included). */
  readonly callsLastSync?: number;
  /** Remaining Xero budget as last reported by Xero's headers. */
  readonly rateBudget?: { readonly minuteRemaining?: number; readonly dayRemaining?: number };
}

/** What the HTTP side reads: the current snapshot and the sync status. */
export interface Directory {
  /** The current snapshot, or undefined before the first one is loaded. */
  current(): DirectorySnapshot | undefined;
  /**
   * The snapshot a read should be served from. In cached mode this is `current()`. In live mode it may first
   * fetch from Xero (concurrent callers share one fetch; a minimum freshness window protects the rate limit).
   */
  forRead(): Promise<DirectorySnapshot | undefined>;
  /**
   * The snapshot `forRead` would answer without waiting (nothing to fetch first), or undefined when it would wait or
   * holds none: the resource reads then call `forRead`. Reads answered from it take no turn of the microtask queue.
   */
  readNow?(): DirectorySnapshot | undefined;
  /** Per-organisation health and overall readiness. */
  status(): DirectoryStatus;
  /**
   * The snapshot of `version` if this replica still holds it (the current one, or one of the last few it served),
   * else undefined. It answers the later pages of a crawl that began on another replica; without it, only this
   * replica's own pins and the current snapshot can.
   */
  snapshot?(version: string): DirectorySnapshot | undefined;
}

/** A problem with a time, as `/readyz`, metrics and the status page show it. */
export interface ProblemReport {
  readonly code: string;
  readonly message: string;
  readonly at: string;
}

/** What Xero said of the configured credentials the last time they were used. */
export const CREDENTIAL_STATES = ['valid', 'unknown', 'invalid_grant', 'invalid_client', 'unauthorized', 'not_configured'] as const;

export interface CredentialHealth {
  /**
   * valid: Xero accepted them; unknown: not used successfully yet (first sync running, or Xero unreachable);
   * the others need an operator: invalid_grant (consent again), invalid_client (client ID or secret),
   * unauthorized (a fixed access token expired), not_configured (none set, or the token file unusable).
   */
  readonly state: (typeof CREDENTIAL_STATES)[number];
  /** When Xero last accepted them. */
  readonly validAt?: string;
  readonly error?: ProblemReport;
}

/** Whether STATE_DIR keeps what the syncs produce (the directory state and rotated refresh tokens). */
export interface PersistenceHealth {
  /** False while the last write to STATE_DIR failed: a restart would lose what is in memory. */
  readonly ok: boolean;
  readonly lastSavedAt?: string;
  readonly error?: ProblemReport;
}

export interface DirectoryStatus {
  /**
   * Ready = a snapshot with at least one organisation is held, so SCIM reads are answered (an empty directory would
   * read as everyone's access revoked); credential and sync health are reported beside it.
   */
  readonly ready: boolean;
  /** Why not ready (for `/readyz` and the SCIM 503), or undefined when ready. */
  readonly reason?: string;
  /** Why no snapshot can be served, as a code and a message (the SCIM 503's detail), when one is known. */
  readonly cause?: { readonly code: string; readonly message: string };
  readonly lastSyncAt?: string;
  readonly lastSyncOutcome?: 'ok' | 'partial' | 'failed';
  /** Why the last sync failed as a whole (token, /connections), when it did. */
  readonly lastSyncError?: ProblemReport;
  /** The end of the last sync that was not a failure (ok or partial). */
  readonly lastSuccessfulSyncAt?: string;
  readonly credentials?: CredentialHealth;
  readonly persistence?: PersistenceHealth;
  readonly tenants: readonly TenantHealth[];
  /** As one of several replicas: this one's role, the leader, the shared store's state and each replica's version. */
  readonly replication?: ReplicationStatus;
}
