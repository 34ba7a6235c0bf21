/**
 * The Xero sandbox in a process of its own, so syncing from it costs the synced server nothing but the calls.
 * It issues a web-app refresh token for every organisation (as if someone had consented to all of them).
 */
import { createSandbox, type GenerateOptions, type LatencyOptions, type RateLimitOptions } from '../../src/sandbox';
import { childInput, failStartup, serveParent } from '../ipc';

interface Input {
  data: GenerateOptions;
  limits?: RateLimitOptions;
  latency?: LatencyOptions;
}

export interface SandboxInfo {
  url: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  organisations: number;
  memberships: number;
  generateMs: number;
}

async function main(): Promise<void> {
  const input = childInput<Input>();
  const started = Date.now();
  const sandbox = createSandbox({ data: input.data, limits: input.limits ?? {}, latency: input.latency ?? {} });
  const generateMs = Date.now() - started;
  const { url } = await sandbox.listen(0, '127.0.0.1');
  const organisations = sandbox.data.organisations();
  const tenantIds = organisations.map((o) => o.organisationId);
  const web = sandbox.clients.web;
  const issue = () => sandbox.data.issueRefreshToken(web.clientId, tenantIds);
  serveParent({
    counters: () => sandbox.data.counters(),
    resetCounters: () => sandbox.data.resetCounters(),
    refreshToken: () => issue(),
  }).ready({
    url,
    clientId: web.clientId,
    clientSecret: web.clientSecret,
    refreshToken: issue(),
    organisations: organisations.length,
    memberships: organisations.reduce((n, o) => n + o.userCount, 0),
    generateMs,
  } satisfies SandboxInfo);
}

main().catch(failStartup);
