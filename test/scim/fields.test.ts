/**
 * A resource set reads ids, index keys, columns and sort values from the rendering's field readers instead of
 * rendering every resource; every answer depends on each reader giving exactly what the rendered resource holds.
 * This holds every reader of every type, in the global view and in each tenant view, to its renderer.
 */
import { renderGlobal, renderTenant, type Rendering } from '../../src/scim/mapping';
import { resolvePath, valuesAt, type ResolvedPath } from '../../src/scim/paths';
import { GROUP_TYPE, ROLE_TYPE, USER_TYPE, type ResourceTypeDefinition } from '../../src/scim/schemas';
import type { TenantData } from '../../src/directory/model';

/** A rendering's sources, in order. */
const sourcesOf = (rendering: Rendering): unknown[] => Array.from({ length: rendering.size }, (_, position) => rendering.sourceAt(position));
import { ACME, BASE, TENANTS, generatedTenants, snapshotOf } from '../http/fixtures';

const TYPES: readonly ResourceTypeDefinition[] = [USER_TYPE, GROUP_TYPE, ROLE_TYPE];
const sorted = (values: readonly unknown[]) => [...values].map((v) => JSON.stringify(v)).sort();

function checkReaders(rendering: Rendering, type: ResourceTypeDefinition): number {
  let checked = 0;
  for (const [name, read] of Object.entries(rendering.fields)) {
    const path = resolvePath(type.schema, name) as ResolvedPath;
    expect(path).toBeDefined();
    for (const source of sourcesOf(rendering)) {
      const data = rendering.render(source);
      expect(sorted(read(source))).toEqual(sorted(valuesAt(data, path)));
      checked++;
    }
  }
  const ids = sourcesOf(rendering).map((source) => {
    const id = rendering.idOf(source);
    expect(id).toBe(rendering.render(source).id);
    return id;
  });
  // The default order is by id, in code-unit order: lookups by id search it.
  expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  return checked;
}

describe('field readers agree with the rendered resources', () => {
  const snapshots = [snapshotOf(), snapshotOf(generatedTenants(3, 120, 5))];
  it.each(TYPES.map((t) => [t.id, t] as const))('%s, in the global view', (_, type) => {
    for (const snapshot of snapshots) expect(checkReaders(renderGlobal(snapshot, type.id, BASE), type)).toBeGreaterThan(0);
  });

  it.each(TYPES.map((t) => [t.id, t] as const))('%s, in every tenant view', (_, type) => {
    for (const snapshot of snapshots) {
      for (const organisation of snapshot.organisations) checkReaders(renderTenant(snapshot, organisation, type.id, `${BASE}/tenants/${organisation.id}`), type);
    }
  });

  it('holds for people without a name, with spaces around an e-mail, non-Latin names and unknown roles', () => {
    const acme = TENANTS[0]!;
    const record = (xeroUserId: string, email: string, firstName: string, lastName: string, role: TenantData['users'][number]['role']) => ({
      organisationId: ACME,
      xeroUserId,
      email,
      firstName,
      lastName,
      role,
      isSubscriber: false,
      updatedAt: '2024-05-05T05:05:05Z',
    });
    const tenants: TenantData[] = [
      {
        ...acme,
        users: [
          ...acme.users,
          record('c0000000-0000-4000-8000-000000000001', '  Nameless@Example.com ', '', '', 'UNKNOWN'),
          record('c0000000-0000-4000-8000-000000000002', 'ΣΟΦΙΑ@example.gr', 'Σοφία', 'Παπαδοπούλου', 'INVOICEONLY'),
          record('c0000000-0000-4000-8000-000000000003', 'li@example.cn', '李', '', 'REMOVED'),
        ],
      },
      TENANTS[1]!,
    ];
    const snapshot = snapshotOf(tenants);
    for (const type of TYPES) {
      checkReaders(renderGlobal(snapshot, type.id, BASE), type);
      for (const organisation of snapshot.organisations) checkReaders(renderTenant(snapshot, organisation, type.id, BASE), type);
    }
  });
});
