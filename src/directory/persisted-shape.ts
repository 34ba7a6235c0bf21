/**
 * What a directory state is, wherever it is kept (STATE_DIR's file, a leader's publish to Redis): the
 * `PersistedDirectory` type, its zod schemas, and the checks that turn untrusted JSON into one. The stores
 * (`persistence.ts`) and the binary file format (`state-file.ts`) both build on it; it imports neither.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type DerivedPeople, ORGANISATION_ROLES, SUSPICION_REASONS, type Suspicion, type TenantData, type TenantHealth } from './model';

export interface PersistedDirectory {
  /** The version of this shape (the JSON of STATE_DIR's format-1 file and of a publish); the binary file has its own. */
  readonly format: 1;
  /** ISO instant of the sync that produced it. */
  readonly savedAt: string;
  readonly tenants: readonly TenantData[];
  readonly health: readonly TenantHealth[];
  /** ISO instant organisation details were last fetched, per organisation id (they refresh on their own period). */
  readonly organisationsFetchedAt: Readonly<Record<string, string>>;
  /**
   * Removals Xero asked for and the guard holds back, per organisation id (`guard.ts`); the tenants above keep their
   * last good data, so a restart during a suspicion serves that data and keeps counting. Absent in older files.
   */
  readonly suspicions?: Readonly<Record<string, Suspicion>>;
  /**
   * The content version (`snapshotVersion`) of `tenants`, when the sync that saved them had published exactly them:
   * a restart then builds its snapshot without hashing a million records again. Absent: computed on load.
   */
  readonly version?: string;
  /**
   * The people a snapshot of exactly `tenants` derived (`derivedPeople`), so a restart reads them instead of deriving
   * them again. Kept in STATE_DIR's binary file only: a JSON state (format 1, a replica's publish) never has them.
   */
  readonly people?: DerivedPeople;
}

export const organisationSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  legalName: z.string().optional(),
  shortCode: z.string().optional(),
  organisationType: z.string().optional(),
  countryCode: z.string().optional(),
  baseCurrency: z.string().optional(),
  version: z.string().optional(),
  edition: z.enum(['BUSINESS', 'PARTNER']),
  class: z.string().optional(),
  status: z.string().optional(),
  isDemoCompany: z.boolean().optional(),
  timezone: z.string().optional(),
  createdAt: z.string(),
  connectionId: z.string(),
  tenantType: z.enum(['ORGANISATION', 'PRACTICE']),
});

const user = z.object({
  organisationId: z.string().min(1),
  xeroUserId: z.string().min(1),
  email: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  role: z.enum(ORGANISATION_ROLES),
  isSubscriber: z.boolean(),
  updatedAt: z.string(),
});

export const healthSchema = z.object({
  organisationId: z.string(),
  name: z.string().optional(),
  state: z.enum(['current', 'stale', 'missing']),
  lastSuccessAt: z.string().optional(),
  lastAttemptAt: z.string().optional(),
  lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).optional(),
  userCount: z.number().optional(),
  rateBudget: z.object({ minuteRemaining: z.number().optional(), dayRemaining: z.number().optional() }).optional(),
});

export const suspicionSchema = z.object({
  reason: z.enum(SUSPICION_REASONS),
  since: z.string(),
  answers: z.number().int().min(1),
  awaitsOperator: z.boolean(),
  confirmed: z.boolean().optional(),
});

const persisted = z.object({
  format: z.literal(1),
  savedAt: z.string(),
  tenants: z.array(z.object({ organisation: organisationSchema, users: z.array(user), syncedAt: z.string() })),
  health: z.array(healthSchema),
  organisationsFetchedAt: z.record(z.string(), z.string()),
  suspicions: z.record(z.string(), suspicionSchema).optional(),
  version: z.string().optional(),
});

export class SnapshotStoreError extends Error {
  override readonly name = 'SnapshotStoreError';
}

/**
 * A fingerprint of the persisted form's schema: equal on two processes exactly when both validate the same shape.
 * A replica reading a state another replica published with the same fingerprint was written by code with this very
 * schema, from typed state, so it needs only `parseOwnPersisted`'s outline check (gzip's CRC already guards the
 * bytes); a state from a replica with another schema (a rolling update) is validated in full.
 */
export const PERSISTED_SCHEMA_ID = createHash('sha256').update(JSON.stringify(z.toJSONSchema(persisted))).digest('base64url').slice(0, 16);

/**
 * A state written by code with this schema (`PERSISTED_SCHEMA_ID`): its outline is checked (format, the three
 * collections), not every field of every user: at 100,000 users full validation costs more than parsing the JSON.
 */
export function parseOwnPersisted(json: unknown, source: string): PersistedDirectory {
  const state = json as Partial<PersistedDirectory> | null;
  if (state?.format !== 1 || typeof state.savedAt !== 'string' || !Array.isArray(state.tenants) || !Array.isArray(state.health) || typeof state.organisationsFetchedAt !== 'object') {
    throw new SnapshotStoreError(`${source}: not a directory state of this version`);
  }
  return state as PersistedDirectory;
}

/**
 * Validates a persisted state (from STATE_DIR, or as a leader published it to a shared store); throws
 * `SnapshotStoreError` naming `source` and the first problem.
 */
export function parsePersisted(json: unknown, source: string): PersistedDirectory {
  const result = persisted.safeParse(json);
  if (!result.success) throw new SnapshotStoreError(`${source}: not a directory state of this version (${firstIssue(result.error)})`);
  return result.data as PersistedDirectory;
}

/** Where and why zod refused a value: `path.to.field: message`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`;
}

