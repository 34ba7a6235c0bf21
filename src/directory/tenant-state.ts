/**
 * What the directory keeps about each organisation from one sync to the next, as named fields: its connection,
 * its last good data, this sync's answer (until the removal guard decides), the guard's suspicion, its last error
 * and its rate budget. Every other part of the sync reads or updates these states, and the rules that only read
 * them (health, the report, persistence) are plain functions of them (`status.ts`, `sync-report.ts`,
 * `saved-state.ts`).
 */
import type { RateBudget } from '../xero/budget';
import type { Connection } from '../xero/identity';
import type { Organisation, Suspicion, TenantData, XeroUserRecord } from './model';
import { PackedUserRecord, isPacked, packUsers } from './packed-users';

export interface TenantState {
  /** Lower-case tenant id. */
  readonly id: string;
  /** Its entry in the last `/connections` answer that listed it. */
  connection?: Connection;
  /** The last good data: what the snapshot serves for it. */
  data?: TenantData;
  /** Organisation details, fetched on their own longer period. */
  organisation?: Organisation;
  /** Milliseconds since the epoch when `organisation` was fetched. */
  organisationFetchedAt?: number;
  lastSuccessAt?: string;
  lastAttemptAt?: string;
  lastError?: { code: string; message: string; at: string };
  /** This sync's answer, until the removal guard decides whether it becomes `data`. */
  answer?: TenantData;
  /** Set while the guard holds Xero's answer for it back. */
  suspicion?: Suspicion;
  /** Xero calls made for it by the last sync that reached it (retries included). */
  callsLastSync?: number;
  readonly budget: RateBudget;
}

/** Every organisation the directory knows, by lower-case id; each gets its own rate budget when first seen. */
export class Tenants {
  private readonly states = new Map<string, TenantState>();

  constructor(private readonly newBudget: (id: string) => RateBudget) {}

  /** The state of `id`, created when first asked for. */
  get(id: string): TenantState {
    let state = this.states.get(id);
    if (!state) {
      state = { id, budget: this.newBudget(id) };
      this.states.set(id, state);
    }
    return state;
  }

  find(id: string): TenantState | undefined {
    return this.states.get(id);
  }

  has(id: string): boolean {
    return this.states.has(id);
  }

  delete(id: string): void {
    this.states.delete(id);
  }

  /** In the order they were first seen. */
  all(): TenantState[] {
    return [...this.states.values()];
  }

  /** By id: the order of the snapshot, the report and the status. */
  sorted(): TenantState[] {
    return this.all().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/** Memberships an organisation's data grants: a REMOVED record is a person Xero keeps, without access. */
export function memberCount(data: TenantData): number {
  return data.users.reduce((n, u) => (u.role === 'REMOVED' ? n : n + 1), 0);
}

/**
 * The answer as the organisation's new data, sharing the last data's users when Xero answered exactly the same ones
 * (the usual sync): a directory of a million memberships would otherwise hold a fresh copy of every record for each
 * of the snapshots kept for crawls and cursors, and the collector would promote a million new records every sync.
 * (A sync packs each answer as it arrives, `tenant-sync.ts`.)
 */
export function withUnchangedUsersShared(answer: TenantData, last: TenantData | undefined): TenantData {
  if (!last || !sameUsers(answer.users, last.users)) return answer;
  return { ...answer, users: last.users };
}

/** `data` with its users packed; `data` itself when they are. */
export function withPackedUsers(data: TenantData): TenantData {
  return isPacked(data.users) ? data : { ...data, users: packUsers(data.users) };
}

function sameUsers(a: readonly XeroUserRecord[], b: readonly XeroUserRecord[]): boolean {
  if (a.length !== b.length) return false;
  const packed = PackedUserRecord.sameLists(a, b);
  if (packed !== undefined) return packed;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.xeroUserId !== y.xeroUserId ||
      x.organisationId !== y.organisationId ||
      x.email !== y.email ||
      x.firstName !== y.firstName ||
      x.lastName !== y.lastName ||
      x.role !== y.role ||
      x.isSubscriber !== y.isSubscriber ||
      x.updatedAt !== y.updatedAt
    ) {
      return false;
    }
  }
  return true;
}

