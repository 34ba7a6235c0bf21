/**
 * The directory's state in STATE_DIR, as the sync sees it: turning the tenant states into what a `SnapshotStore`
 * keeps and back (pure functions), and saving and loading through the store while remembering whether the last
 * write succeeded (`/readyz`'s `persistence`).
 */
import type { Logger } from '../log';
import { type Clock, isoTime } from '../xero/clock';
import type { GuardPolicy } from './guard';
import type { DirectorySnapshot, ProblemReport, TenantData } from './model';
import { derivedPeople } from './snapshot';
import type { PersistedDirectory, SnapshotStore } from './persistence';
import { tenantHealth } from './status';
import { type TenantState, type Tenants, withPackedUsers } from './tenant-state';

/** Resolves in the check phase of the next event-loop iteration, after its poll phase has read pending I/O. */
function nextLoopTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * What is kept of the tenant states (sorted by id): their last good data, health, detail ages and suspicions.
 * `published`: the snapshot published of exactly that data's content, when the caller has one; its version is kept
 * (see `PersistedDirectory.version`), and its people too when it was built from these very records (`derivedPeople`).
 */
export function toPersisted(states: readonly TenantState[], savedAt: string, policy: GuardPolicy, published?: DirectorySnapshot): PersistedDirectory {
  const tenants = states.flatMap((s) => (s.data ? [s.data] : []));
  const people = published && derivedPeople(published, tenants);
  return {
    format: 1,
    savedAt,
    ...(published ? { version: published.version } : {}),
    ...(people ? { people } : {}),
    tenants,
    health: states.map((s) => tenantHealth(s, policy)),
    organisationsFetchedAt: Object.fromEntries(
      states.flatMap((s) => (s.organisationFetchedAt === undefined ? [] : [[s.id, isoTime(s.organisationFetchedAt)]])),
    ),
    suspicions: Object.fromEntries(states.flatMap((s) => (s.suspicion ? [[s.id, s.suspicion]] : []))),
  };
}

/**
 * Puts a persisted state back into `tenants` and answers the data the snapshot is rebuilt from. Leaving
 * XERO_TENANT_IDS is the operator's intent: it applies at once, even to what STATE_DIR kept.
 */
export function restoreTenants(tenants: Tenants, state: PersistedDirectory, allowList: ReadonlySet<string>): TenantData[] {
  // Users read from JSON (a format-1 file, a replica's publish) are packed here; a binary file's already are.
  const kept = state.tenants.filter((t) => allowList.size === 0 || allowList.has(t.organisation.id)).map(withPackedUsers);
  for (const data of kept) {
    const s = tenants.get(data.organisation.id);
    const suspicion = state.suspicions?.[s.id];
    if (suspicion) s.suspicion = suspicion;
    s.data = data;
    s.organisation = data.organisation;
    const fetchedAt = state.organisationsFetchedAt[s.id];
    if (fetchedAt) s.organisationFetchedAt = Date.parse(fetchedAt);
  }
  for (const h of state.health) {
    if (!tenants.has(h.organisationId)) continue; // a missing tenant is only known again from /connections
    const s = tenants.get(h.organisationId);
    if (h.lastSuccessAt) s.lastSuccessAt = h.lastSuccessAt;
    if (h.lastAttemptAt) s.lastAttemptAt = h.lastAttemptAt;
    if (h.lastError) s.lastError = h.lastError;
  }
  return kept;
}

/**
 * Replaces the tenant states with a state another replica published, wholesale: an organisation absent from it is
 * dropped, and each one's data, health, suspicion and detail age are the publisher's (a field it did not have is
 * cleared). The rate budgets stay: they describe this process's calls. Answers the data the snapshot is built from.
 */
export function adoptTenants(tenants: Tenants, state: PersistedDirectory, allowList: ReadonlySet<string>): TenantData[] {
  const allowed = (id: string): boolean => allowList.size === 0 || allowList.has(id);
  const ids = new Set([...state.tenants.map((t) => t.organisation.id), ...state.health.map((h) => h.organisationId)].filter(allowed));
  for (const s of tenants.all()) if (!ids.has(s.id)) tenants.delete(s.id);
  for (const id of ids) {
    const s = tenants.get(id);
    delete s.connection;
    delete s.data;
    delete s.organisation;
    delete s.organisationFetchedAt;
    delete s.lastSuccessAt;
    delete s.lastAttemptAt;
    delete s.lastError;
    delete s.suspicion;
    delete s.answer;
    delete s.callsLastSync;
  }
  const kept = restoreTenants(tenants, state, allowList);
  for (const h of state.health) {
    const s = tenants.find(h.organisationId);
    if (s && h.callsLastSync !== undefined) s.callsLastSync = h.callsLastSync;
  }
  return kept;
}

/** Gives each organisation's budget the day allowance the publisher last saw left (`at`: when it published). */
export function seedDayBudgets(tenants: Tenants, state: Pick<PersistedDirectory, 'savedAt' | 'health'>): void {
  const at = Date.parse(state.savedAt);
  for (const h of state.health) {
    const remaining = h.rateBudget?.dayRemaining;
    if (remaining !== undefined) tenants.find(h.organisationId)?.budget.seedDayRemaining(remaining, at);
  }
}

/** The latest success any organisation had in a persisted state. */
export function lastSuccessOf(state: PersistedDirectory): string | undefined {
  return state.health.reduce<string | undefined>((latest, h) => (h.lastSuccessAt && (!latest || h.lastSuccessAt > latest) ? h.lastSuccessAt : latest), undefined);
}

export class SavedState {
  /** When a state was last written (or the one loaded was saved). */
  lastSavedAt: string | undefined;
  /** The last failed write, cleared by the next good one. */
  writeError: ProblemReport | undefined;

  constructor(
    private readonly store: SnapshotStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Never rejects: a failed write is kept in `writeError` (and logged), and the directory serves from memory. The
   * event loop first takes a whole turn: requests that waited while the snapshot was built (`/readyz`, SCIM reads)
   * are read in the next poll phase and answered from the new snapshot before encoding starts (it then runs in
   * slices, `encodeStateFile`). A timer would not do: its due time comes from the loop's clock as it stood before the
   * build, so it runs before that poll.
   */
  async save(state: PersistedDirectory): Promise<void> {
    await nextLoopTurn();
    try {
      await this.store.save(state);
      this.lastSavedAt = state.savedAt;
      this.writeError = undefined;
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).code;
      this.writeError = {
        code: 'STATE_NOT_WRITABLE',
        message: `cannot save the directory state in STATE_DIR (${errno ?? (err as Error).message}): a restart would lose it`,
        at: isoTime(this.clock.now()),
      };
      this.logger.error({ err }, 'cannot persist the directory state to STATE_DIR; serving from memory');
    }
  }

  /** The persisted state, or undefined when there is none or it cannot be used (logged). */
  async load(): Promise<PersistedDirectory | undefined> {
    let state: PersistedDirectory | undefined;
    try {
      state = await this.store.load();
    } catch (err) {
      this.logger.warn({ err }, 'ignoring the persisted directory state');
      return undefined;
    }
    if (state) this.lastSavedAt = state.savedAt;
    return state;
  }
}
