/**
 * xero-scim's sync in a process of its own, against the sandbox: the product's `createXeroDirectory` with its
 * default configuration (XERO_CONCURRENCY organisations at a time, Organisation details on their own longer
 * period), so the first sync reads Organisation + Users and a steady-state sync reads Users only.
 */
import { mkdirSync } from 'node:fs';
import { loadConfig } from '../../src/config';
import { createXeroDirectory } from '../../src/directory/sync';
import { childInput, failStartup, serveParent } from '../ipc';
import { heapAfterGc } from '../servers/listen';

interface Input {
  sandbox: { url: string; clientId: string; clientSecret: string; refreshToken: string };
  stateDir: string;
}

export interface SyncRun {
  wallMs: number;
  durationMs: number;
  outcome: string;
  calls: { token: number; connections: number; organisation: number; users: number };
  rateLimited: number;
  organisationsCurrent: number;
}

async function main(): Promise<void> {
  const input = childInput<Input>();
  mkdirSync(input.stateDir, { recursive: true });
  const before = heapAfterGc();
  const config = loadConfig({
    XERO_CLIENT_ID: input.sandbox.clientId,
    XERO_CLIENT_SECRET: input.sandbox.clientSecret,
    XERO_REFRESH_TOKEN: input.sandbox.refreshToken,
    XERO_API_URL: input.sandbox.url,
    XERO_IDENTITY_URL: input.sandbox.url,
    STATE_DIR: input.stateDir,
    SYNC_MODE: 'cached',
  });
  const directory = createXeroDirectory(config);
  serveParent({
    sync: async (): Promise<SyncRun> => {
      const started = Date.now();
      const report = await directory.syncOnce();
      return {
        wallMs: Date.now() - started,
        durationMs: report.durationMs,
        outcome: report.outcome,
        calls: report.calls,
        rateLimited: report.rateLimited,
        organisationsCurrent: report.tenants.filter((t) => t.result === 'current').length,
      };
    },
    memory: () => {
      const snapshot = directory.current();
      return {
        before,
        after: heapAfterGc(),
        memberships: snapshot ? snapshot.tenants.reduce((n, t) => n + t.users.length, 0) : 0,
      };
    },
  }).ready({ concurrency: config.xeroConcurrency, organisationRefreshSeconds: config.organisationRefreshSeconds });
}

main().catch(failStartup);
