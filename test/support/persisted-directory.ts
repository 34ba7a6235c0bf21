/**
 * A `PersistedDirectory` built straight from the sandbox's deterministic generator, the shape a leader publishes:
 * for tests and measurements of the shared store that need a realistic state (thousands of organisations and users)
 * without running a sync.
 */
import type { PersistedDirectory } from '../../src/directory/persistence';
import type { TenantData } from '../../src/directory/model';
import { generateData, type SandboxData } from '../../src/sandbox';
import { dataFor } from '../../bench/dataset';

const iso = (ms: number): string => new Date(ms).toISOString();

export function persistedFrom(data: SandboxData, syncedAt = '2026-01-01T00:00:00.000Z'): PersistedDirectory {
  const tenants: TenantData[] = data.organisations.map((org) => {
    const id = org.organisationId.toLowerCase();
    return {
      organisation: {
        id,
        name: org.name,
        legalName: org.legalName,
        shortCode: org.shortCode,
        organisationType: org.organisationType,
        countryCode: org.countryCode,
        baseCurrency: org.baseCurrency,
        version: org.version,
        edition: org.edition,
        class: org.class,
        status: org.status,
        isDemoCompany: org.isDemoCompany,
        timezone: org.timezone,
        createdAt: iso(org.createdAt),
        connectionId: `connection-${id}`,
        tenantType: org.tenantType,
      },
      users: org.users.map((user) => ({
        organisationId: id,
        xeroUserId: user.userId,
        email: user.email,
        firstName: user.firstName,
        lastName: user.lastName,
        role: user.role,
        isSubscriber: user.isSubscriber,
        updatedAt: iso(user.updatedAt),
      })),
      syncedAt,
    };
  });
  return {
    format: 1,
    savedAt: syncedAt,
    tenants,
    health: tenants.map((t) => ({ organisationId: t.organisation.id, name: t.organisation.name, state: 'current' as const, lastSuccessAt: syncedAt, userCount: t.users.length })),
    organisationsFetchedAt: Object.fromEntries(tenants.map((t) => [t.organisation.id, syncedAt])),
  };
}

/** About `users` SCIM users (the bench's sizing), as a published state. */
export function persistedDirectoryOf(users: number, seed = 7): PersistedDirectory {
  return persistedFrom(generateData(dataFor(users, seed)));
}
