/**
 * Hand-written directory data for the SCIM tests, and a tiny in-memory `Directory` around it.
 */
import type express from 'express';
import { createApp, type AppOptions } from '../../src/http/app';
import type { Directory, DirectorySnapshot, Organisation, TenantData, XeroUserRecord } from '../../src/directory/model';
import { buildSnapshot } from '../../src/directory/snapshot';

export const TOKEN = 'test-token-0123456789';
export const PUBLIC_URL = 'https://scim.example.test';
export const BASE = `${PUBLIC_URL}/scim/v2`;
export const AUTH = { Authorization: `Bearer ${TOKEN}` };

export const ACME = '11111111-1111-4111-8111-111111111111';
export const BETA = '22222222-2222-4222-8222-222222222222';

function organisation(id: string, name: string, more: Partial<Organisation> = {}): Organisation {
  return {
    id,
    name,
    shortCode: `!${name.slice(0, 4)}`,
    organisationType: 'COMPANY',
    countryCode: 'NZ',
    baseCurrency: 'NZD',
    edition: 'BUSINESS',
    class: 'PREMIUM',
    status: 'ACTIVE',
    createdAt: '2020-01-01T00:00:00Z',
    connectionId: `conn-${id.slice(0, 4)}`,
    tenantType: 'ORGANISATION',
    ...more,
  };
}

function user(organisationId: string, xeroUserId: string, email: string, firstName: string, lastName: string, role: XeroUserRecord['role'], updatedAt: string, isSubscriber = false): XeroUserRecord {
  return { organisationId, xeroUserId, email, firstName, lastName, role, isSubscriber, updatedAt };
}

/**
 * Acme (Business) and Beta (Partner). Ann is in both (with differently-cased e-mails); Bob is only in Acme;
 * Cat was removed from Beta; Dan is an adviser in Beta.
 */
export const TENANTS: readonly TenantData[] = [
  {
    organisation: organisation(ACME, 'Acme Ltd', { createdAt: '2019-05-01T00:00:00Z', legalName: 'Acme Limited' }),
    syncedAt: '2026-11-01T00:00:00Z',
    users: [
      user(ACME, 'a0000000-0000-4000-8000-00000000000a', 'Ann.Smith@Example.com', 'Ann', 'Smith', 'STANDARD', '2024-03-01T10:00:00Z', true),
      user(ACME, 'a0000000-0000-4000-8000-00000000000b', 'bob@example.com', 'Bob', 'Jones', 'READONLY', '2024-02-01T10:00:00Z'),
    ],
  },
  {
    organisation: organisation(BETA, 'Beta & Co', { edition: 'PARTNER', countryCode: 'AU', baseCurrency: 'AUD' }),
    syncedAt: '2026-11-01T00:00:00Z',
    users: [
      user(BETA, 'b0000000-0000-4000-8000-00000000000a', 'ann.smith@example.com', 'Ann', 'Smith', 'FINANCIALADVISER', '2024-06-15T08:30:00.5Z'),
      user(BETA, 'b0000000-0000-4000-8000-00000000000c', 'cat@example.com', 'Cat', 'Lee', 'REMOVED', '2024-01-10T00:00:00Z'),
      user(BETA, 'b0000000-0000-4000-8000-00000000000d', 'dan@example.com', 'Dan', 'Brown', 'MANAGEDCLIENT', '2024-04-01T00:00:00Z'),
    ],
  },
];

export function snapshotOf(tenants: readonly TenantData[] = TENANTS): DirectorySnapshot {
  return buildSnapshot(tenants, '2026-11-01T00:00:00Z');
}

/** A Directory serving a fixed snapshot (or none, to test 503). */
export function fixedDirectory(snapshot: DirectorySnapshot | undefined): Directory & { set(next: DirectorySnapshot | undefined): void } {
  let current = snapshot;
  return {
    current: () => current,
    forRead: async () => current,
    status: () => ({ ready: current !== undefined, tenants: [] }),
    set(next) {
      current = next;
    },
  };
}

export function appFor(snapshot: DirectorySnapshot | undefined = snapshotOf(), options: Partial<AppOptions> = {}): express.Express {
  return createApp({ directory: fixedDirectory(snapshot), tokens: [TOKEN], publicUrl: PUBLIC_URL, ...options });
}
