/** A directory that serves one fixed snapshot: for tests of the SCIM side and for demos without Xero. */
import type { Directory, DirectorySnapshot, DirectoryStatus } from './model';
import { memberCount } from './tenant-state';

export function staticDirectory(snapshot: DirectorySnapshot): Directory {
  const status: DirectoryStatus = {
    ready: true,
    lastSyncAt: snapshot.builtAt,
    lastSyncOutcome: 'ok',
    tenants: snapshot.tenants.map((t) => ({
      organisationId: t.organisation.id,
      name: t.organisation.name,
      state: 'current',
      lastSuccessAt: t.syncedAt,
      lastAttemptAt: t.syncedAt,
      userCount: memberCount(t),
    })),
  };
  return {
    current: () => snapshot,
    forRead: async () => snapshot,
    readNow: () => snapshot,
    status: () => status,
  };
}
