/**
 * Hand-written directory data for the SCIM tests, and a tiny in-memory `Directory` around it.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
    readNow: () => current,
    status: () => ({ ready: current !== undefined, tenants: [] }),
    set(next) {
      current = next;
    },
  };
}

/**
 * A GET sent with its path exactly as written, over a real listening server: supertest's client would cut a `#` and
 * what follows from the URL, where Node's server hands it to the app.
 */
export async function rawGet(app: express.Express, path: string, headers: Record<string, string> = AUTH): Promise<{ status: number; text: string }> {
  const server = app.listen(0, '127.0.0.1');
  try {
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        })
        .on('error', reject);
    });
  } finally {
    server.close();
  }
}

export function appFor(snapshot: DirectorySnapshot | undefined = snapshotOf(), options: Partial<AppOptions> = {}): express.Express {
  return createApp({ directory: fixedDirectory(snapshot), tokens: [TOKEN], publicUrl: PUBLIC_URL, ...options });
}

/**
 * A generated directory: `organisations` organisations, `users` people, each with a deterministic pseudo-random
 * set of records (some removed, some in several organisations, e-mails in varying case).
 */
export function generatedTenants(organisations: number, users: number, seed = 1): TenantData[] {
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const roles: XeroUserRecord['role'][] = ['READONLY', 'INVOICEONLY', 'STANDARD', 'FINANCIALADVISER', 'MANAGEDCLIENT', 'CASHBOOKCLIENT', 'REMOVED', 'UNKNOWN'];
  const orgs = Array.from({ length: organisations }, (_, i) =>
    organisation(`${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`, `Org ${i}`, { edition: i % 2 ? 'PARTNER' : 'BUSINESS' }),
  );
  const byOrg = new Map<string, XeroUserRecord[]>(orgs.map((o) => [o.id, []]));
  for (let u = 0; u < users; u++) {
    const email = `user${u}@example.com`;
    const home = Math.floor(random() * organisations);
    for (let o = 0; o < organisations; o++) {
      if (o !== home && random() > 0.2) continue;
      const org = orgs[o]!;
      const role = roles[Math.floor(random() * roles.length)]!;
      const day = String(1 + Math.floor(random() * 28)).padStart(2, '0');
      byOrg.get(org.id)!.push(
        user(org.id, `${String(o).padStart(4, '0')}${String(u).padStart(4, '0')}-0000-4000-8000-${String(u).padStart(12, '0')}`, random() < 0.3 ? email.toUpperCase() : email, `Given${u}`, `Family${u}`, role, `2024-02-${day}T10:00:00.${Math.floor(random() * 1e7)}Z`),
      );
    }
  }
  return orgs.map((o) => ({ organisation: o, users: byOrg.get(o.id)!, syncedAt: '2026-11-01T00:00:00Z' }));
}
