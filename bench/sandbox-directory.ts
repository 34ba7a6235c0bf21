/** The product's directory, configured to sync from a benchmark's sandbox (the same way in every bench process). */
import { mkdirSync } from 'node:fs';
import { directoryOptions } from '../src/commands/directory-options';
import { type Config, loadConfig } from '../src/config';
import { type XeroDirectory, createXeroDirectory } from '../src/directory/sync';

export interface SandboxAccess {
  url: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

export function sandboxDirectory(sandbox: SandboxAccess, stateDir: string): { directory: XeroDirectory; config: Config } {
  mkdirSync(stateDir, { recursive: true });
  const config = loadConfig({
    XERO_CLIENT_ID: sandbox.clientId,
    XERO_CLIENT_SECRET: sandbox.clientSecret,
    XERO_REFRESH_TOKEN: sandbox.refreshToken,
    XERO_API_URL: sandbox.url,
    XERO_IDENTITY_URL: sandbox.url,
    STATE_DIR: stateDir,
    SYNC_MODE: 'cached',
  });
  return { directory: createXeroDirectory(directoryOptions(config)), config };
}
