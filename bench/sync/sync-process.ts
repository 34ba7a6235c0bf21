/**
 * xero-scim's sync in a process of its own, against the sandbox: the product's `createXeroDirectory` with its
 * default configuration (XERO_CONCURRENCY organisations at a time, Organisation details on their own longer
 * period), so the first sync reads Organisation + Users and a steady-state sync reads Users only.
 */
import { missingV8Flags } from '../../src/runtime';
import { sandboxDirectory } from '../sandbox-directory';
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
  // The server's sync runs with the V8 flags `xero-scim serve` runs with (src/runtime.ts).
  const missing = missingV8Flags();
  if (missing.length > 0) failStartup(new Error(`started without ${missing.join(' ')}`));
  const input = childInput<Input>();
  const before = heapAfterGc();
  const { directory, config } = sandboxDirectory(input.sandbox, input.stateDir);
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
