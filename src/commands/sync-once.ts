/**
 * `xero-scim sync --once --json`: one sync against Xero, persisted like the server's, and the resulting snapshot
 * (people, organisations, roles) with the sync report, as JSON.
 */
import type { Config } from '../config';
import type { DirectorySnapshot, DirectoryStatus, Organisation, OrganisationRole } from '../directory/model';
import { type XeroDirectoryDeps, createXeroDirectory } from '../directory/sync';
import { directoryOptions } from './directory-options';
import type { SyncReport } from '../directory/sync-report';

export interface SyncOnceResult {
  /** Undefined when no snapshot could be built or loaded (see `report.error` and `status.reason`). */
  readonly snapshot: DirectorySnapshot | undefined;
  readonly report: SyncReport;
  readonly status: DirectoryStatus;
}

/** Loads the persisted state, syncs once (organisations that fail keep their last good data) and persists. */
export async function runSyncOnce(config: Config, deps: XeroDirectoryDeps = {}): Promise<SyncOnceResult> {
  // A one-off sync never loops, and never syncs on read.
  const directory = createXeroDirectory(directoryOptions({ ...config, syncMode: 'cached' }), deps);
  await directory.load();
  const report = await directory.syncOnce();
  return { snapshot: directory.current(), report, status: directory.status() };
}

export interface SyncJson {
  readonly version: string | null;
  readonly builtAt: string | null;
  readonly organisations: readonly Organisation[];
  readonly people: readonly {
    readonly id: string;
    readonly userName: string;
    readonly email: string;
    readonly givenName: string;
    readonly familyName: string;
    readonly active: boolean;
    readonly memberships: readonly {
      readonly organisationId: string;
      readonly xeroUserId: string;
      readonly role: OrganisationRole;
      readonly isSubscriber: boolean;
      readonly updatedAt: string;
    }[];
  }[];
  readonly roles: readonly {
    readonly id: string;
    readonly organisationId: string;
    readonly code: string;
    readonly displayName: string;
    readonly memberIds: readonly string[];
  }[];
  readonly report: SyncReport;
  readonly status: DirectoryStatus;
}

export function renderSyncJson(result: SyncOnceResult): SyncJson {
  const { snapshot, report, status } = result;
  return {
    version: snapshot?.version ?? null,
    builtAt: snapshot?.builtAt ?? null,
    organisations: snapshot?.organisations ?? [],
    people: [...(snapshot?.people ?? [])].map((p) => ({
      id: p.id,
      userName: p.userName,
      email: p.email,
      givenName: p.givenName,
      familyName: p.familyName,
      active: p.active,
      memberships: p.records.map((r) => ({
        organisationId: r.organisationId,
        xeroUserId: r.xeroUserId,
        role: r.role,
        isSubscriber: r.isSubscriber,
        updatedAt: r.updatedAt,
      })),
    })),
    roles: (snapshot?.roles ?? []).map((r) => ({
      id: r.id,
      organisationId: r.organisationId,
      code: r.code,
      displayName: r.displayName,
      memberIds: r.memberIds,
    })),
    report,
    status,
  };
}
