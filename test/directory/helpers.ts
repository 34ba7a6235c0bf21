import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '../../src/config';
import { directoryOptions } from '../../src/commands/directory-options';
import { type XeroDirectory, type XeroDirectoryDeps, createXeroDirectory } from '../../src/directory/sync';
import { type Sandbox, type SandboxOptions, createSandbox } from '../../src/sandbox';
import type { Clock } from '../../src/xero/clock';

export interface World {
  sandbox: Sandbox;
  url: string;
  stateDir: string;
  config: Config;
  close(): Promise<void>;
}

/** A sandbox on 127.0.0.1:0, a temporary STATE_DIR, and a config of a web app consented to every organisation. */
export async function world(options: SandboxOptions & { clock: Clock }, env: Record<string, string> = {}): Promise<World> {
  const sandbox = createSandbox(options);
  const server = await sandbox.listen(0, '127.0.0.1');
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'xero-scim-sync-'));
  const refreshToken = sandbox.data.issueRefreshToken(
    sandbox.clients.web.clientId,
    sandbox.data.organisations().map((o) => o.organisationId),
  );
  const config = loadConfig({
    XERO_CLIENT_ID: sandbox.clients.web.clientId,
    XERO_CLIENT_SECRET: sandbox.clients.web.clientSecret,
    XERO_REFRESH_TOKEN: refreshToken,
    XERO_API_URL: server.url,
    XERO_IDENTITY_URL: server.url,
    XERO_LOGIN_URL: server.url,
    STATE_DIR: stateDir,
    ...env,
  });
  return {
    sandbox,
    url: server.url,
    stateDir,
    config,
    close: async () => {
      await server.close();
      await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * A directory replica for the in-memory replication hub: `config`'s directory with the test's clock, fixed jitter, a
 * 5 s call timeout, and the token chain and confirmations every replica of the test shares; `extra` adds or
 * overrides dependencies (a gated `fetch`, a Xero call counter).
 */
export function replicaDirectory(
  config: Config,
  shared: Pick<XeroDirectoryDeps, 'clock' | 'replication' | 'tokenStore' | 'confirmationStore'>,
  extra: Partial<XeroDirectoryDeps> = {},
): XeroDirectory {
  return createXeroDirectory(directoryOptions(config), { random: () => 0.5, policy: { timeoutMs: 5000 }, ...shared, ...extra });
}
